"""Lossless JPEG rotation and flipping with libjpeg-turbo's jpegtran (Debian libjpeg-turbo-progs).

Applying EXIF orientation this way moves DCT blocks instead of decoding and re-encoding, so the
stored pixels are exactly the camera's. `make setup` installs jpegtran; without it, or when the
image size does not allow a perfect transform, the caller falls back to decode + re-encode.
"""

from __future__ import annotations

import shutil
import subprocess

# EXIF orientation -> the jpegtran operation that makes the image upright.
_OPERATIONS: dict[int, list[str]] = {
    2: ["-flip", "horizontal"], 3: ["-rotate", "180"], 4: ["-flip", "vertical"],
    5: ["-transpose"], 6: ["-rotate", "90"], 7: ["-transverse"], 8: ["-rotate", "270"],
}


def jpegtran_path() -> str | None:
    return shutil.which("jpegtran")


def transform_losslessly(data: bytes, orientation: int) -> bytes | None:
    """Upright JPEG bytes with only the ICC profile kept, or None if not possible losslessly."""
    exe = jpegtran_path()
    if exe is None or orientation not in _OPERATIONS:
        return None
    result = subprocess.run([exe, "-copy", "icc", "-perfect", *_OPERATIONS[orientation]],
                            input=data, capture_output=True, timeout=120, check=False)
    # -perfect fails when edge blocks cannot move (size not a multiple of the MCU).
    return result.stdout if result.returncode == 0 and result.stdout else None

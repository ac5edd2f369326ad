"""One received image -> the bytes the raw zone stores: upright, 8-bit RGB, no metadata.

Policy (docs/stages.md, "Ingest"):
- 8-bit RGB JPEG: metadata segments dropped, image data untouched; a non-upright EXIF
  orientation is applied losslessly with jpegtran, else by decode + re-encode (recorded).
- grayscale or CMYK JPEG: converted to RGB and re-encoded (quality ``jpeg_quality``).
- 8-bit RGB PNG: metadata chunks dropped; every other PNG (grayscale, palette, 16-bit, opaque
  alpha) is converted to 8-bit RGB and re-encoded losslessly.
- refused: empty, over the byte or pixel cap (checked from the header, before any decoding),
  truncated or structurally broken, animated, with transparent pixels, or neither JPEG nor PNG.
  An RGB JPEG's pixels are not decoded here (the quality stage decodes each image once).
"""

from __future__ import annotations

import io
import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from PIL import Image, UnidentifiedImageError

from skinrisk.imaging.errors import ImageRejected
from skinrisk.imaging.jpeg import is_jpeg, strip_jpeg_metadata
from skinrisk.imaging.jpegtran import transform_losslessly
from skinrisk.imaging.png import is_png, read_png_header, strip_png_metadata
from skinrisk.reasons import Reason

_ORIENTATION_TAG = 0x0112
_T = TypeVar("_T")
_SIGNATURES = {b"GIF8": "GIF", b"RIFF": "WebP", b"II*\x00": "TIFF", b"MM\x00*": "TIFF",
               b"BM": "BMP"}


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_pixels: int
    jpeg_quality: int = 95


@dataclass(frozen=True)
class StoredImage:
    data: bytes
    format: str  # "jpeg" | "png"
    width: int  # upright
    height: int
    orientation: int  # EXIF orientation as received (1 = upright)
    transform: str  # "none" | "lossless" (jpegtran) | "reencoded"
    converted_from: str | None  # original pixel mode when converted to 8-bit RGB


def deidentify_image(data: bytes, limits: Limits) -> StoredImage:
    if not data:
        raise ImageRejected(Reason.EMPTY_FILE, "the file is empty")
    if len(data) > limits.max_bytes:
        raise ImageRejected(Reason.TOO_LARGE, f"{len(data):,} bytes, cap {limits.max_bytes:,}")
    if is_jpeg(data):
        return _jpeg(data, limits)
    if is_png(data):
        return _png(data, limits)
    kind = next((name for sig, name in _SIGNATURES.items() if data.startswith(sig)), "unknown")
    raise ImageRejected(Reason.UNSUPPORTED_FORMAT, f"content is {kind}, not JPEG or PNG")


def _jpeg(data: bytes, limits: Limits) -> StoredImage:
    img = _open(data)
    size = img.size  # before draft(): a reduced decode changes it
    _check_pixels(*size, limits)
    orientation = _orientation(img)
    # No pixel decode here: strip_jpeg_metadata walks every segment to the end-of-image
    # marker, which catches truncation; the quality stage decodes each image once (at reduced
    # size) and quarantines what does not decode. Decoding here too would double the cost.
    if img.mode != "RGB":
        if img.mode not in ("L", "CMYK"):
            raise ImageRejected(Reason.UNSUPPORTED_MODE, f"JPEG mode {img.mode}")
        pixels = _decoded(lambda: _upright(_open(data).convert("RGB"), orientation))
        return _encoded(pixels, "jpeg", orientation, "reencoded", img.mode, limits)
    if orientation == 1:
        return _stored(strip_jpeg_metadata(data), "jpeg", size, 1, "none", None)
    upright = transform_losslessly(data, orientation)
    if upright is not None:
        size = size[::-1] if orientation >= 5 else size
        return _stored(strip_jpeg_metadata(upright), "jpeg", size, orientation, "lossless", None)
    pixels = _decoded(lambda: _upright(_open(data), orientation))
    return _encoded(pixels, "jpeg", orientation, "reencoded", None, limits)


def _png(data: bytes, limits: Limits) -> StoredImage:
    header = read_png_header(data)
    _check_pixels(header.width, header.height, limits)
    stripped, chunk_types = strip_png_metadata(data)
    if b"acTL" in chunk_types:
        raise ImageRejected(Reason.ANIMATED, "animated PNG")
    img = _open(data)
    orientation = _orientation(img)
    try:
        img.load()  # PNG has no reduced decode; its chunks' CRCs passed, now the pixel stream
    except (OSError, ValueError) as exc:
        raise ImageRejected(Reason.UNREADABLE, f"PNG pixel data does not decode "
                            f"({type(exc).__name__})") from None
    if header.plain_rgb8 and orientation == 1:
        return _stored(stripped, "png", img.size, 1, "none", None)
    rgb, converted_from = _decoded(lambda: _to_rgb8(img))
    upright = _decoded(lambda: _upright(rgb, orientation))
    transform = "lossless" if orientation != 1 else "none"  # PNG re-encoding loses nothing
    return _encoded(upright, "png", orientation, transform, converted_from, limits)


def _open(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageRejected(Reason.TOO_MANY_PIXELS, str(exc)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        # The exception's type only: Pillow's messages quote bytes of the file (chunk names).
        raise ImageRejected(Reason.UNREADABLE, f"header does not parse ({type(exc).__name__})"
                            ) from None


def _decoded(decode: Callable[[], _T]) -> _T:
    """Run a pixel decode; damaged pixel data is a rejection, whatever Pillow raises for it."""
    try:
        return decode()
    except (OSError, ValueError, SyntaxError, TypeError, EOFError, struct.error) as exc:
        raise ImageRejected(Reason.UNREADABLE, f"pixel data does not decode "
                            f"({type(exc).__name__})") from None


# EXIF orientation -> the transpose that makes the image upright (as ImageOps.exif_transpose,
# without reading the EXIF block again: a damaged one made Pillow raise TypeError).
_UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
            4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
            6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90}


def _upright(img: Image.Image, orientation: int) -> Image.Image:
    return img.transpose(_UPRIGHT[orientation]) if orientation in _UPRIGHT else img


def _check_pixels(width: int, height: int, limits: Limits) -> None:
    if width <= 0 or height <= 0:
        raise ImageRejected(Reason.UNREADABLE, f"image size {width}x{height}")
    if width * height > limits.max_pixels:
        raise ImageRejected(Reason.TOO_MANY_PIXELS,
                            f"{width}x{height} pixels, cap {limits.max_pixels:,}")


def _orientation(img: Image.Image) -> int:
    try:
        value = img.getexif().get(_ORIENTATION_TAG, 1)
    except (OSError, ValueError, SyntaxError):  # unreadable EXIF: it is dropped anyway
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _to_rgb8(img: Image.Image) -> tuple[Image.Image, str | None]:
    mode = img.mode
    if mode == "RGB":
        return img, None
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        scaled = (np.asarray(img, dtype=np.uint32) >> 8).astype(np.uint8)  # 16-bit -> 8-bit
        return Image.fromarray(scaled, "L").convert("RGB"), mode
    if mode in ("1", "L"):
        return img.convert("RGB"), mode
    if mode in ("P", "LA", "PA", "RGBA"):
        rgba = img.convert("RGBA")
        if rgba.getchannel("A").getextrema()[0] < 255:
            raise ImageRejected(Reason.TRANSPARENCY, f"{mode} image with transparent pixels")
        return rgba.convert("RGB"), mode
    raise ImageRejected(Reason.UNSUPPORTED_MODE, f"PNG mode {mode}")


def _encoded(img: Image.Image, fmt: str, orientation: int, transform: str,
             converted_from: str | None, limits: Limits) -> StoredImage:
    img = img.copy()
    img.info = {}  # Pillow would otherwise write the source's EXIF and text back out
    out = io.BytesIO()
    if fmt == "jpeg":
        img.save(out, format="JPEG", quality=limits.jpeg_quality, subsampling=0)
    else:
        img.save(out, format="PNG", compress_level=3)
    return _stored(out.getvalue(), fmt, img.size, orientation, transform, converted_from)


def _stored(data: bytes, fmt: str, size: tuple[int, int], orientation: int, transform: str,
            converted_from: str | None) -> StoredImage:
    return StoredImage(data, fmt, size[0], size[1], orientation, transform, converted_from)

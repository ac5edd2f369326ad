"""Quality checks on camera-like 2000x1500 JPEGs, beside Pillow's full-decode rate of the same
files (issue target: ingest + quality together at least 2x the full-decode rate per core)."""

from __future__ import annotations

import io
import time

from PIL import Image

from bench.ingest import camera_like
from skinrisk.quality.checks import score_image
from skinrisk.quality.decode import load_working_image
from skinrisk.quality.faces import count_faces
from skinrisk.quality.planes import Planes
from skinrisk.quality.runner import score_bytes


def run(count: int = 40) -> list[tuple[str, float, str]]:
    files = camera_like(count)
    score_bytes("warm-up", files[0])  # loads OpenCV's face cascade once

    def rate(work) -> float:
        start = time.perf_counter()
        for data in files:
            work(data)
        return count / (time.perf_counter() - start)

    full = max(rate(lambda d: Image.open(io.BytesIO(d)).load()) for _ in range(2))
    quality = max(rate(lambda d: score_bytes("x", d)) for _ in range(2))
    decode = max(rate(load_working_image) for _ in range(2))
    working = [load_working_image(d) for d in files]
    checks = max(_rate_of(working, score_image) for _ in range(2))
    faces = max(_rate_of(working, _faces_only) for _ in range(2))
    return [
        ("quality: decode at 1/4 + every check, 2000x1500 JPEG, 1 core", quality, "images/s"),
        ("quality / full decode", quality / full, "ratio"),
        ("  of which: decode at 1/4 + resize to the 384 px working copy", decode, "images/s"),
        ("  of which: every check on the working copy", checks, "images/s"),
        ("  of which: the face check alone", faces, "images/s"),
        *_inpaint_rates(),
    ]


def _inpaint_rates() -> list[tuple[str, float, str]]:
    """pack's training copy (299 px) of real inked photos, plain and with the ink painted out
    (quality.actions.dye: inpaint); none where the PAD-UFES-20 sample is absent."""
    from pathlib import Path

    from skinrisk.packing.shards import resize_for_training

    pad = Path(__file__).resolve().parents[2] / "shared/data/pad-ufes-20/images"
    photos = [p.read_bytes() for p in sorted(pad.glob("*.png"))]
    inked = [d for d in photos if score_bytes("x", d).dye_fraction > 0.0025][:20]
    if not inked:
        return []
    plain = max(_rate_of(inked, lambda d: resize_for_training(d, 299)) for _ in range(2))
    painted = max(_rate_of(inked, lambda d: resize_for_training(d, 299, inpaint=True))
                  for _ in range(2))
    return [(f"pack: training copy at 299 px of {len(inked)} inked PAD photos, plain", plain,
             "images/s"),
            ("pack: the same, ink painted out", painted, "images/s")]


def _rate_of(items, work) -> float:
    start = time.perf_counter()
    for item in items:
        work(item)
    return len(items) / (time.perf_counter() - start)


def _faces_only(rgb) -> int:
    return count_faces(Planes.of(rgb))

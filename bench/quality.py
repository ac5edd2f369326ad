"""Quality checks on camera-like 2000x1500 JPEGs, beside Pillow's full-decode rate of the same
files (issue target: ingest + quality together at least 2x the full-decode rate per core)."""

from __future__ import annotations

import io
import time

from PIL import Image

from bench.ingest import camera_like
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
    return [
        ("quality: decode at 1/4 + every check, 2000x1500 JPEG, 1 core", quality, "images/s"),
        ("quality / full decode", quality / full, "ratio"),
    ]

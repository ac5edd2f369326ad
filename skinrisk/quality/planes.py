"""One working image in the colour spaces the checks read, each converted once per image.

The checks are the quality stage's hot path (every image of every batch): grey, HSV and
CIELAB of a 384 px copy are made here once, not once per check that reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Planes:
    rgb: np.ndarray  # uint8 HxWx3
    gray: np.ndarray  # uint8 HxW
    hsv: np.ndarray  # uint8, OpenCV's ranges
    lab: np.ndarray  # uint8 CIELAB, OpenCV's 8-bit encoding (a*, b* offset by 128)

    @classmethod
    def of(cls, rgb: np.ndarray) -> Planes:
        import cv2

        rgb = np.ascontiguousarray(rgb)
        return cls(rgb, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY),
                   cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV), cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB))

    def chroma_hue(self) -> tuple[np.ndarray, np.ndarray]:
        """Per pixel, CIELAB chroma and hue angle (degrees, -180..180), by table lookup: a
        square root and an arctangent per pixel were most of a colour check's cost."""
        chroma, hue = _ab_tables()
        ab = (self.lab[..., 1].astype(np.uint16) << 8) | self.lab[..., 2]
        return chroma[ab], hue[ab]


_AB_TABLES: tuple[np.ndarray, np.ndarray] | None = None


def _ab_tables() -> tuple[np.ndarray, np.ndarray]:
    """For every 8-bit (a, b) pair, at index (a << 8) | b: chroma and hue (float32). Built once."""
    global _AB_TABLES
    if _AB_TABLES is None:
        a, b = np.meshgrid(np.arange(256, dtype=np.float32) - 128,
                           np.arange(256, dtype=np.float32) - 128, indexing="ij")
        _AB_TABLES = (np.hypot(a, b).ravel(), np.degrees(np.arctan2(b, a)).ravel())
    return _AB_TABLES

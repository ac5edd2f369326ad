"""Appearance per image: brightness and colour, the figures validate compares between batches.

No threshold applies to them here: a photo is not wrong for being bright or red. A new camera, a
new white balance or a new clinic's lighting moves a whole batch's distribution, and validate
measures that against the batches before it (docs/stages.md, "Validate": image drift).
"""

from __future__ import annotations

from dataclasses import dataclass

from skinrisk.quality.planes import Planes


@dataclass(frozen=True)
class Appearance:
    brightness: float  # mean HSV value, 0..1
    saturation: float  # mean HSV saturation, 0..1
    redness: float  # mean CIELAB a* (green-red), 0..1 with 0.5 neutral grey


def score_appearance(image: Planes) -> Appearance:
    hsv, lab_a = image.hsv, image.lab[..., 1]  # 8-bit a*: 128 is neutral
    return Appearance(brightness=float(hsv[..., 2].mean() / 255),
                      saturation=float(hsv[..., 1].mean() / 255),
                      redness=float(lab_a.mean() / 255))

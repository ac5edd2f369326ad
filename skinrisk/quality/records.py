"""Rows of the quality stage: cached scores per image, and the quarantine of the curated set."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScoreRecord:
    """Computed once per image_id and cached; thresholds are applied later, so changing a
    threshold never needs a re-decode."""

    image_id: str
    decodable: bool
    error: str | None
    sharpness: float
    dark_fraction: float
    bright_fraction: float
    skin_fraction: float
    dye_fraction: float
    hair_fraction: float
    gloss_fraction: float
    faces: int
    phash: int  # 63-bit perceptual hash
    # Defaults: an undecodable image's record gives only the fields above.
    vignette: float = 0.0
    bubbles: int = 0
    brightness: float = 0.0
    saturation: float = 0.0
    redness: float = 0.0
    wet_fraction: float = 0.0


@dataclass(frozen=True)
class QualityQuarantineRecord:
    image_id: str
    batch_id: str
    reasons: str  # ";"-separated reason codes
    detail: str  # each failed check with its score and threshold
    near_duplicate_of: str | None
    dup_group: str

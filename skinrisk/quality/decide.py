"""Scores and thresholds -> the reasons an image leaves the curated dataset (pure)."""

from __future__ import annotations

from skinrisk.config import QualityParams
from skinrisk.quality.records import ScoreRecord
from skinrisk.reasons import Reason


def judge(scores: ScoreRecord, width: int, height: int, params: QualityParams
          ) -> list[tuple[Reason, str]]:
    """Every failed check with a detail naming the score and its threshold; [] means passed."""
    if not scores.decodable:
        return [(Reason.UNREADABLE, f"does not decode ({scores.error})")]
    checks = [
        (min(width, height) < params.min_side_px, Reason.LOW_RESOLUTION,
         f"short side {min(width, height)} px < {params.min_side_px}"),
        (scores.sharpness < params.min_sharpness, Reason.BLUR,
         f"sharpness {scores.sharpness:.2f} < {params.min_sharpness}"),
        (scores.dark_fraction > params.max_dark_fraction, Reason.UNDEREXPOSED,
         f"dark fraction {scores.dark_fraction:.3f} > {params.max_dark_fraction}"),
        (scores.bright_fraction > params.max_bright_fraction, Reason.OVEREXPOSED,
         f"bright fraction {scores.bright_fraction:.3f} > {params.max_bright_fraction}"),
        (scores.skin_fraction < params.min_skin_fraction, Reason.BACKGROUND_DOMINANT,
         f"skin fraction {scores.skin_fraction:.3f} < {params.min_skin_fraction}"),
        (scores.dye_fraction > params.max_dye_fraction, Reason.DYE,
         f"dye fraction {scores.dye_fraction:.4f} > {params.max_dye_fraction}"),
        (scores.hair_fraction > params.max_hair_fraction, Reason.HAIR,
         f"hair fraction {scores.hair_fraction:.3f} > {params.max_hair_fraction}"),
        (scores.gloss_fraction > params.max_gloss_fraction, Reason.EXUDATE,
         f"gloss fraction {scores.gloss_fraction:.5f} > {params.max_gloss_fraction}"),
        (params.block_faces and scores.faces > 0, Reason.FACE_VISIBLE,
         f"{scores.faces} face(s) found"),
    ]
    return [(reason, detail) for failed, reason, detail in checks if failed]

"""Exudate: specular highlights on or at the edge of fresh-blood-red tissue.

Redesigned on 516 real photos labelled by eye (docs/quality-labels.csv), where the first check
(very bright unsaturated glints anywhere) had precision 0.29: it fired on the pearly dome of basal
cell carcinomas -- a diagnostic sign -- on dry keratin and scale, stubble and flash glare. The
wet lesions labelled by eye are nearly all fresh blood (scarlet, far more saturated than the skin
around it) carrying sharp highlights. A glint alone is everywhere; blood colour alone is not
enough either (dry haemorrhagic crusts, raw erosions and angiomas are as red). What only a wet
bleed has is both at once, so the score counts highlight pixels within a few pixels of blood-red
ones. Every size is relative to the image's long side and every colour threshold to the image's
own median, so neither the working copy's size nor the white balance sets the score. Figures,
and the labels' own disagreements that cap them: docs/quality-calibration.md.
"""

from __future__ import annotations

import numpy as np

# CIELAB chroma above the photo's median: fresh blood is far more saturated than skin or mild
# erythema. 25 separated best of 20/25 on the labelled set (as a colour-only feature).
_BLOOD_CHROMA_ABOVE_MEDIAN = 25.0
# CIELAB hue angle of scarlet blood and blood-tinged serum. Below 20 degrees: violaceous
# lesions, angiomas and violet ink; above 50: brown pigment, tan and yellow crust.
_BLOOD_HUE_DEG = (20.0, 50.0)
# A highlight: a spot this much lighter (8-bit L, 0-255) than its surroundings after a
# top-hat narrower than a thirtieth of the frame. Skin texture stays below it.
_GLINT_TOPHAT = 45


def score_exudate(rgb: np.ndarray) -> float:
    """The fraction of pixels that are specular highlights on or beside blood-red tissue.

    ``rgb``: uint8 HxWx3 working copy; 0.0 for a photo without any (compared with
    quality.max_wet_fraction).
    """
    import cv2

    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
    side = max(rgb.shape[:2])
    near_blood = _near(_blood_mask(lab), side)
    glints = _glint_mask(lab[..., 0], side)
    return float((glints & near_blood).mean())


def _blood_mask(lab: np.ndarray) -> np.ndarray:
    """Pixels coloured like fresh blood: chroma well above the photo's own median, scarlet hue.

    Relative to the median (mostly skin), so a warm colour cast or dark skin does not turn the
    whole photo into 'blood'. A 2x2 opening then drops single pixels and one-pixel lines:
    JPEG chroma noise and telangiectasia (a BCC's vessels) are red too, but not a bleed.
    """
    import cv2

    chroma_of, scarlet = _ab_tables()
    # One index per pixel into the 256x256 tables of (a, b): chroma and hue by lookup, not by
    # square roots and arctangents per pixel, which were most of the check's cost.
    ab = (lab[..., 1].astype(np.uint16) << 8) | lab[..., 2]
    chroma = chroma_of[ab]
    counts = np.cumsum(np.bincount(chroma.ravel(), minlength=256))
    median = int(np.searchsorted(counts, chroma.size / 2))
    blood = (scarlet[ab] & (chroma > median + _BLOOD_CHROMA_ABOVE_MEDIAN)).astype(np.uint8)
    return cv2.morphologyEx(blood, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))


_AB_TABLES = None


def _ab_tables() -> tuple[np.ndarray, np.ndarray]:
    """For every 8-bit (a, b) pair, index (a << 8) | b: CIELAB chroma rounded to a whole unit
    (uint8), and whether the hue angle lies in _BLOOD_HUE_DEG (bool). Built once."""
    global _AB_TABLES
    if _AB_TABLES is None:
        a, b = np.meshgrid(np.arange(256) - 128.0, np.arange(256) - 128.0, indexing="ij")
        hue = np.degrees(np.arctan2(b, a))
        lo, hi = _BLOOD_HUE_DEG
        _AB_TABLES = (np.round(np.hypot(a, b)).astype(np.uint8).ravel(),
                      ((hue >= lo) & (hue < hi)).ravel())
    return _AB_TABLES


def _near(mask: np.ndarray, side: int) -> np.ndarray:
    """The mask grown by about a sixtieth of the frame on each side.

    A highlight on wet blood is itself white, not red, so it is never *in* the blood mask: it
    sits inside a hole of it or at its edge (a film of fluid catching the flash at the rim).
    """
    import cv2

    size = max(3, round(side / 30) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    return cv2.dilate(mask, kernel) > 0


def _glint_mask(lightness: np.ndarray, side: int) -> np.ndarray:
    """Small spots much lighter than around them (white top-hat of CIELAB L).

    On lightness, not on HSV value, so a highlight on dark red blood counts as strongly as one on
    pale skin; small (narrower than a thirtieth of the frame), so a broad sheen or an evenly lit
    pale area is not a glint.
    """
    import cv2

    size = max(5, round(side / 30) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    return cv2.morphologyEx(lightness, cv2.MORPH_TOPHAT, kernel) > _GLINT_TOPHAT

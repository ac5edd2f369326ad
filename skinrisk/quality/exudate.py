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

from skinrisk.quality.planes import Planes

# CIELAB chroma above the photo's median: fresh blood is far more saturated than skin or mild
# erythema. 25 separated best of 20/25 on the labelled set (as a colour-only feature).
_BLOOD_CHROMA_ABOVE_MEDIAN = 25.0
# CIELAB hue angle of scarlet blood and blood-tinged serum. Below 20 degrees: violaceous
# lesions, angiomas and violet ink; above 50: brown pigment, tan and yellow crust.
_BLOOD_HUE_DEG = (20.0, 50.0)
# A highlight: a spot this much lighter (8-bit L, 0-255) than its surroundings after a
# top-hat narrower than a thirtieth of the frame. Skin texture stays below it.
_GLINT_TOPHAT = 45


def score_exudate(image: Planes) -> float:
    """The fraction of pixels that are specular highlights on or beside blood-red tissue in
    the working copy; 0.0 for a photo without any (compared with quality.max_wet_fraction)."""
    side = max(image.rgb.shape[:2])
    near_blood = _near(_blood_mask(image), side)
    glints = _glint_mask(image.lab[..., 0], side)
    return float((glints & near_blood).mean())


def _blood_mask(image: Planes) -> np.ndarray:
    """Pixels coloured like fresh blood: chroma well above the photo's own median, scarlet hue.

    Relative to the median (mostly skin), so a warm colour cast or dark skin does not turn the
    whole photo into 'blood'. A 2x2 opening then drops single pixels and one-pixel lines:
    JPEG chroma noise and telangiectasia (a BCC's vessels) are red too, but not a bleed.
    """
    import cv2

    chroma, hue = image.chroma_hue()
    chroma = np.round(chroma).astype(np.uint8)  # whole units: the median by counting
    counts = np.cumsum(np.bincount(chroma.ravel(), minlength=256))
    median = int(np.searchsorted(counts, chroma.size / 2))
    lo, hi = _BLOOD_HUE_DEG
    blood = ((hue >= lo) & (hue < hi)
             & (chroma > median + _BLOOD_CHROMA_ABOVE_MEDIAN)).astype(np.uint8)
    return cv2.morphologyEx(blood, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))


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

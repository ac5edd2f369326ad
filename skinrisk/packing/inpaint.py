"""Marker ink painted out of a training copy (quality.actions.dye: inpaint).

Ink is drawn around the lesions a clinician suspects, so it is far commoner on malignant than on
benign photos (docs/quality-calibration.md): rejecting inked photos removes malignant lesions
from training, keeping them teaches a model that ink means cancer. Painting the lines out keeps
the lesion and drops the shortcut. The raw photo is never changed; the pack index records which
training copies were painted, and the mask is a pure function of the photo, so every painted
copy can be made again bit for bit.
"""

from __future__ import annotations

import numpy as np

from skinrisk.quality.checks import dye_mask
from skinrisk.quality.decode import load_working_image


def paint_out_ink(data: bytes, training: np.ndarray) -> tuple[np.ndarray, float]:
    """``training``: the photo ``data`` as the training copy (RGB uint8, any size). Returns it
    with the ink lines the quality check sees (on the same working copy) filled in from the
    skin around them, and the share of its pixels painted."""
    import cv2

    mask = dye_mask(load_working_image(data), whole_lines=True).astype(np.uint8)
    height, width = training.shape[:2]
    mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)
    # A line's anti-aliased fringe lies just outside the detected core: widen by ~1% of the
    # side, so no violet halo is left behind.
    grow = max(3, round(max(height, width) / 100) | 1)
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)))
    if not mask.any():
        return training, 0.0
    painted = cv2.inpaint(np.ascontiguousarray(training), mask, max(3, grow), cv2.INPAINT_TELEA)
    return painted, float(mask.mean())

"""Marker ink painted out of a training copy (quality.actions.dye: inpaint).

Ink is drawn around the lesions a clinician suspects, so it is far commoner on malignant than on
benign photos (docs/quality-calibration.md): rejecting inked photos removes malignant lesions
from training, keeping them teaches a model that ink means cancer. Painting the lines out keeps
the lesion and drops the shortcut. Only training copies are painted (pack, split "train"): the
test sets keep the photos as they arrive, so their figures say how the model does on real,
inked input. The raw photo is never changed; the pack index records, per copy, the share
painted and the version of the code that painted it, and the mask is a pure function of the
photo, so a painted copy can be made again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skinrisk.quality.checks import dye_mask
from skinrisk.quality.decode import load_working_image

# Above this share of the copy, what was found is not a few lines: leave the copy as it is
# rather than smear the photo (PAD-UFES-20: 2 of 87 photos the check fires on, both thick
# marker outlines the check only partly finds).
MAX_PAINTED_SHARE = 0.10
_SOURCES = ("inpaint.py", "../quality/checks.py", "../quality/decode.py")


@dataclass(frozen=True)
class Painted:
    image: np.ndarray  # RGB uint8, the copy given, painted where ``share`` > 0
    share: float  # of the copy's pixels painted; 0 when nothing was found or over the cap
    found: float  # of the copy's pixels in the lines found (painted or not)


def inpaint_version() -> str:
    """The code the painted pixels depend on, and OpenCV's version: pack rebuilds a painted
    copy whose version differs, so a cached copy is never one the current code would not make."""
    import cv2

    digest = hashlib.sha256(cv2.__version__.encode())
    here = Path(__file__).resolve().parent
    for name in _SOURCES:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:16]


def paint_out_ink(data: bytes, training: np.ndarray) -> Painted:
    """``training``: the photo ``data`` as the training copy (RGB uint8, any size). The copy
    with the ink lines the quality check sees (on the same working copy) filled in from the
    skin around them."""
    import cv2

    mask = dye_mask(load_working_image(data), whole_lines=True).astype(np.uint8)
    height, width = training.shape[:2]
    mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)
    # A line's anti-aliased fringe lies just outside the detected core: widen by ~1% of the
    # side, so no violet halo is left behind.
    grow = max(3, round(max(height, width) / 100) | 1)
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)))
    found = float(mask.mean())
    if not mask.any() or found > MAX_PAINTED_SHARE:
        return Painted(training, 0.0, found)
    painted = cv2.inpaint(np.ascontiguousarray(training), mask, max(3, grow), cv2.INPAINT_TELEA)
    return Painted(painted, found, found)

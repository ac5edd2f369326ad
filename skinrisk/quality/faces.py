"""Identifiable faces: a privacy block (face_visible), not a grade.

Three detectors, summed:
  1. OpenCV's Haar frontal face (from its wheel): portraits and full frontal faces.
  2. Its profile face cascade on the image and on its mirror (the cascade knows one facing
     direction only): a profile with nose, lips and an eye walked through the frontal one.
  3. An eye at the frame's edge. The two faces labelled in PAD-UFES-20 (docs/quality-labels.csv)
     are close-ups of a facial lesion with one partly cut-off eye in a corner: no bundled cascade
     and no face detector shipped in a registry package (MediaPipe's BlazeFace, both ranges)
     finds them -- a face detector needs a face -- and OpenCV's eye cascades fire on lesions,
     hair and pores. What the eyes share: the iris and pupil are a compact, dark, slightly
     blue-grey, smooth region touching the border, much darker than the lids around it; lesions
     are brown or red and centred, hair is textured, ink saturated, shadows soft. Each gate was
     set with slack on the 516 photos (no false flag) and on 34 flipped, rotated, cropped and
     re-exposed copies of the two faces (29 found; the 5 misses are zoomed or cropped copies
     that push the eye mostly out of the frame). Set on two positives, it is a heuristic, not a
     learned detector: a light-brown iris or an eye in the middle of the frame can be missed;
     recalibrate when more faces are labelled.
"""

from __future__ import annotations

import numpy as np

from skinrisk.quality.planes import Planes

_CASCADES = None


def _cascades() -> tuple:
    import cv2

    global _CASCADES
    if _CASCADES is None:
        h = cv2.data.haarcascades
        _CASCADES = (cv2.CascadeClassifier(h + "haarcascade_frontalface_default.xml"),
                     cv2.CascadeClassifier(h + "haarcascade_profileface.xml"))
    return _CASCADES


def _edge_eyes(image: Planes) -> int:
    """Compact dark blue-grey smooth blobs touching the border: a (partial) eye."""
    import cv2

    sat = image.hsv[..., 1].astype(np.float32)
    val = image.hsv[..., 2].astype(np.float32)
    lab = image.lab.astype(np.float32)
    a, b = lab[..., 1] - 128, lab[..., 2] - 128
    # Dark (V < 110) and not warm (b* <= 2, a* <= 8): iris/pupil; excludes brown/red lesions.
    mask = ((val < 110) & (b <= 2) & (a <= 8)).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, 8)
    h, w = mask.shape
    gray = image.gray
    # Texture: mean |Laplacian| - an iris is smooth, hair and fabric are not.
    lap = np.abs(cv2.Laplacian(cv2.GaussianBlur(gray, (3, 3), 0), cv2.CV_32F))
    found = 0
    for i in range(1, n):
        x, y, bw, bh, area = stats[i]
        if area < 0.01 * h * w:  # >= 1 % of the frame: an eye close to a lesion is large
            continue
        if not (x == 0 or y == 0 or x + bw == w or y + bh == h):
            continue  # the lesion is centred; an eye beside it reaches the frame edge
        if area / float(bw * bh) < 0.4:  # compact, not a strand of hair or an ink ring
            continue
        blob = labels == i
        if b[blob].mean() > -1 or sat[blob].mean() > 80:
            continue  # slightly cool and unsaturated (iris); not neutral shadow, not ink
        if lap[blob].mean() > 3:
            continue  # smooth
        closed = cv2.morphologyEx(blob.astype(np.uint8), cv2.MORPH_CLOSE,
                                  np.ones((9, 9), np.uint8))
        ring = cv2.dilate(closed, np.ones((15, 15), np.uint8)) - closed
        if val[ring > 0].mean() - val[blob].mean() < 15:
            continue  # bordered by lids/skin much brighter: not a soft shadow
        found += 1
    return found


def count_faces(image: Planes) -> int:
    """Faces or eyes that could identify the person in the working copy."""
    import cv2

    gray = image.gray
    frontal, profile = _cascades()
    side = min(gray.shape)
    min_size = (side // 5, side // 5)
    # minNeighbors 12: no false face in the 516 PAD-UFES-20 photos, a portrait still found.
    n = len(frontal.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=12, minSize=min_size))
    # Profile cascade is trained on one facing direction: run it on the mirror too.
    # minNeighbors 5: no false flag on the 516 (0 even at 3 with smaller minSize).
    for g in (gray, cv2.flip(gray, 1)):
        n += len(profile.detectMultiScale(g, scaleFactor=1.1, minNeighbors=5, minSize=min_size))
    return n + _edge_eyes(image)

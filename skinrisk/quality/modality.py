"""Modality: does a photo look clinical (camera, smartphone) or dermoscopic?

The model is trained on clinical photos; a dermoscopic image (a lens pressed on the skin, ~10x)
is another modality that looks nothing like them at 299 px. Two cues a dermatoscope leaves and a
clinical photo does not, each a score on the working copy (numpy/OpenCV, pure):

- vignette: the round lens leaves all four corners black around a lit disc;
- bubbles: the immersion fluid leaves small air bubbles, round rims a few percent of the frame.

Both were chosen to accept the 516 real PAD-UFES-20 clinical photos (no photo has a dark corner;
none has three bubbles) and measured on synthetic dermoscopy (bench/modality.py, docs/stages.md,
"Modality"). A full-frame dermoscopic image without bubbles shows neither cue.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_DARK = 40  # grey level below which a pixel is the lens's black surround
_CORNER = 0.92  # beyond this share of the half-diagonal, a pixel is in a corner
_STEPS = np.linspace(0.3, 1.0, 71)  # samples along a ray from the centre, shares of its length
_ROUND = 0.15  # how far (share of the radius) the dark's edge may stray from one circle
_RAMP = 0.08  # longest lit-to-dark step along a diagonal (share of it) that is still a rim
_DIAGONALS = ((-1, -1), (-1, 1), (1, -1), (1, 1))
_AXES = ((-1, 0), (1, 0), (0, -1), (0, 1))


@dataclass(frozen=True)
class ModalityScores:
    vignette: float  # 0..1: the least dark of the four corners, when the dark is round
    bubbles: int  # small round rims (immersion-fluid bubbles)


def score_modality(gray: np.ndarray) -> ModalityScores:
    return ModalityScores(vignette=score_vignette(gray), bubbles=count_bubbles(gray))


def score_vignette(gray: np.ndarray) -> float:
    """The dark share of the least dark corner, when a lens's round edge bounds the dark; else 0.

    The least dark corner, so a dark background on one side (a finger on a drape) scores 0;
    and only when _lens_edge finds the dark bounded by one sharp circle.
    """
    if not _lens_edge(gray):
        return 0.0
    h, w = gray.shape
    yy, xx = np.mgrid[0:h, 0:w]
    corner = np.hypot(xx - w / 2, yy - h / 2) > _CORNER * np.hypot(w / 2, h / 2)
    dark = gray < _DARK
    shares = [dark[corner & (yy < h / 2 if top else yy >= h / 2)
                   & (xx < w / 2 if left else xx >= w / 2)].mean()
              for top in (True, False) for left in (True, False)]
    return float(min(shares))


def _lens_edge(gray: np.ndarray) -> bool:
    """Whether the dark begins on one circle about the centre, sharply, like a lens's rim.

    Along the four diagonals and the four axes, where the dark begins must fit one circle
    (dark clothing in the corners or letterbox bars do not), an axis lit up to the frame must
    end inside it, and the circle must reach beyond 0.45 of the half-diagonal (an underexposed
    photo is left to the exposure check; a dark melanoma filling a lens still has lit skin
    around it). The step from lit to dark must be short along the diagonals: a lens's rim,
    not the gradual fall-off of a clinical camera's light into dark corners.
    """
    import cv2

    h, w = gray.shape
    smooth = cv2.medianBlur(gray, 5)  # a stray bright speck in the surround is not its edge
    rays = [(sy, sx, _profile(smooth, sy, sx)) for sy, sx in _DIAGONALS + _AXES]
    edges = [(sy, sx, _dark_edge(profile)) for sy, sx, profile in rays]
    if any(edge is None for _, _, edge in edges[:4]):
        return False  # a corner lit up to the frame: no rim there
    if np.median([_ramp(profile, edge) for (_, _, profile), (_, _, edge)  # type: ignore[arg-type]
                  in zip(rays[:4], edges[:4], strict=True)]) > _RAMP:
        return False
    points = np.array([(sx * _STEPS[k] * w / 2, sy * _STEPS[k] * h / 2)
                       for sy, sx, k in edges if k is not None])
    centre, radius = _circle(points)
    if (radius < 0.45 * np.hypot(w / 2, h / 2) or np.hypot(*centre) > _ROUND * radius
            or np.abs(np.hypot(*(points - centre).T) - radius).max() > _ROUND / 2 * radius):
        return False
    frames = [np.array([sx * w / 2, sy * h / 2]) for sy, sx, k in edges[4:] if k is None]
    return all(np.hypot(*(frame - centre)) <= (1 + _ROUND) * radius for frame in frames)


def _profile(gray: np.ndarray, sy: int, sx: int) -> np.ndarray:
    """Grey levels along the ray from the centre toward (sx, sy): a corner or a side's middle."""
    h, w = gray.shape
    ys = np.clip((h / 2 + sy * _STEPS * h / 2).astype(int), 0, h - 1)
    xs = np.clip((w / 2 + sx * _STEPS * w / 2).astype(int), 0, w - 1)
    return gray[ys, xs].astype(np.float32)


def _dark_edge(profile: np.ndarray) -> int | None:
    """Index of the sample where the dark begins for good; None if lit up to the frame."""
    lit = np.flatnonzero(profile >= _DARK)
    if len(lit) and lit[-1] == len(profile) - 1:
        return None
    return int(lit[-1]) + 1 if len(lit) else 0


def _ramp(profile: np.ndarray, edge: int) -> float:
    """How far before the edge (a share of the ray) the profile was still 70% of the way from
    dark to its lit level."""
    if edge == 0:
        return 1.0
    level = float(np.median(profile[:edge]))
    bright = np.flatnonzero(profile[:edge] >= _DARK + 0.7 * max(level - _DARK, 0.0))
    return float(_STEPS[edge] - _STEPS[bright[-1]]) if len(bright) else 1.0


def _circle(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares circle through (x, y) points: x² + y² + Dx + Ey + F = 0 (Kåsa's fit)."""
    a = np.column_stack([points, np.ones(len(points))])
    d, e, f = np.linalg.lstsq(a, -(points ** 2).sum(axis=1), rcond=None)[0]
    centre = np.array([-d / 2, -e / 2])
    return centre, float(np.sqrt(max(centre @ centre - f, 0.0)))


def count_bubbles(gray: np.ndarray) -> int:
    """Small, sharply round rims (1-7% of the short side): OpenCV's gradient Hough transform.

    HOUGH_GRADIENT_ALT with a high circle-quality bar (0.85): pores, hair crossings and a
    lesion's globules are not round enough; a bubble's meniscus is.
    """
    import cv2

    side = min(gray.shape)
    found = cv2.HoughCircles(cv2.GaussianBlur(gray, (3, 3), 0), cv2.HOUGH_GRADIENT_ALT, 1.5,
                             side / 20, param1=300, param2=0.85,
                             minRadius=max(3, side // 100), maxRadius=side // 15)
    return 0 if found is None else len(found[0])

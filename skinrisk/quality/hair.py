"""Hair strands: thin, long lines darker or lighter than the skin on both sides of them.

Redesigned on 516 real photos labelled by eye (docs/quality-labels.csv). The first check (a
black-hat of dark pixels in components a sixth of the frame long) found 5 of 99 labelled photos
with hair over the lesion: on real skin most hair is grey or white (lighter than the skin, which
a black-hat cannot see), thinner than the black-hat's kernel at the working size, and hairs that
cross one another form a mesh that a bounding-box elongation test throws out.

So: a ridge filter (the Hessian at the scale of a one- or two-pixel line) for both polarities,
relative to the local brightness so that hair on dark skin counts as much as on pale skin, kept
only where the pixel is darker (or lighter) than the image two pixels away on BOTH sides across
the line: a lesion's sharp border is a step, brighter on one side and darker on the other, and a
ridge filter alone reads every crisp border as a line. A dark line redder than its sides is a
vessel (a basal cell carcinoma's telangiectasia), not a hair: hair is black, brown, grey or
white. Then components that are long (a twelfth
of the frame) and thin (almost no pixel with a full 3x3 neighbourhood inside), however they
branch, so a mesh of crossing hairs counts and a blob of speckles does not.
"""

from __future__ import annotations

import numpy as np

from skinrisk.quality.planes import Planes

_SIGMA = 0.8  # px at the working size: a hair is one or two pixels wide there
_LINE = 10.0  # ridge strength (grey levels, scaled to mid-grey) above which a pixel may be a line
_SIDE_PX = 2.0  # how far across the line its two sides are looked at
_BOTH_SIDES = 0.3  # the nearer side must differ from the centre by this share of the farther
_REDDER = 2.0  # CIELAB a* units: a dark line this much redder than both sides is a vessel
_MIN_LENGTH = 1 / 12  # of the long side: pores, speckles and scale are shorter
_MAX_INTERIOR = 0.1  # share of a component's pixels whose 3x3 neighbourhood is all inside it


def score_hair(image: Planes) -> float:
    """The fraction of pixels on hair-like strands, dark or light, in the working copy."""
    gray = image.gray.astype(np.float32)
    dark, light = _line_masks(gray, image.lab[..., 1].astype(np.float32))
    side = max(gray.shape)
    return float((_strands(dark, side) | _strands(light, side)).mean())


def _line_masks(gray: np.ndarray, redness: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels on a line darker than both sides and not redder, and on one lighter than both."""
    import cv2

    g = cv2.GaussianBlur(gray, (0, 0), _SIGMA)
    dxx = cv2.Sobel(g, cv2.CV_32F, 2, 0, ksize=3)
    dyy = cv2.Sobel(g, cv2.CV_32F, 0, 2, ksize=3)
    dxy = cv2.Sobel(g, cv2.CV_32F, 1, 1, ksize=3)
    half_trace, spread = (dxx + dyy) / 2, np.sqrt(((dxx - dyy) / 2) ** 2 + dxy ** 2)
    upward, downward = half_trace + spread, half_trace - spread  # Hessian eigenvalues
    # Relative to the local brightness: a hair 20 grey levels off dark skin is as plain to the
    # eye as one 40 off pale skin.
    scale = _SIGMA ** 2 * 128.0 / (cv2.blur(gray, (31, 31)) + 10.0)
    # The direction of `upward`'s eigenvector: across a dark line. Across a light line it is
    # the perpendicular one (`downward`'s).
    theta = 0.5 * np.arctan2(2 * dxy, dxx - dyy)
    cos, sin = np.cos(theta).astype(np.float32), np.sin(theta).astype(np.float32)
    dark_sides = _sides(g, cos, sin)
    light_sides = _sides(g, -sin, cos)
    red = cv2.GaussianBlur(redness, (0, 0), _SIGMA)
    red_sides = _sides(red, cos, sin)
    # A line curves strongly across and hardly along it; a blob curves both ways.
    dark = (((upward - np.abs(downward)) * scale > _LINE)
            & _both(g - dark_sides[0], g - dark_sides[1])
            & (red - np.maximum(*red_sides) < _REDDER))
    light = (((-downward - np.abs(upward)) * scale > _LINE)
             & _both(light_sides[0] - g, light_sides[1] - g))
    return dark, light


def _sides(g: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The image _SIDE_PX away from each pixel, in direction (cos, sin) and opposite."""
    import cv2

    h, w = g.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = cos * _SIDE_PX, sin * _SIDE_PX
    return tuple(cv2.remap(g, xs + sx * dx, ys + sx * dy, cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT) for sx in (1, -1))


def _both(below_one: np.ndarray, below_other: np.ndarray) -> np.ndarray:
    """The centre lies below both sides (negated differences): the nearer side by at least
    _BOTH_SIDES of the farther. A step edge has one side above and one below."""
    near, far = -np.maximum(below_one, below_other), -np.minimum(below_one, below_other)
    return near > _BOTH_SIDES * far


def _strands(mask: np.ndarray, side: int) -> np.ndarray:
    """The mask's components that are long and thin (a mesh of crossing hairs included)."""
    import cv2

    m8 = mask.astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(m8, connectivity=8)
    interior = np.bincount(labels.ravel(), weights=cv2.erode(m8, np.ones((3, 3), np.uint8)).ravel(),
                           minlength=count)
    area = np.maximum(stats[:, cv2.CC_STAT_AREA], 1)
    extent = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    keep = (extent >= side * _MIN_LENGTH) & (interior / area <= _MAX_INTERIOR)
    keep[0] = False
    return keep[labels]

"""Dermoscopy-like images: the other modality, so the modality check has positives to find.

A dermatoscope photographs a lesion through a lens pressed on the skin: the lesion fills the
frame at ~10x, its pigment network and globules show, immersion fluid leaves bubbles and glints,
and the round lens leaves the corners black. ``render_dermoscopy`` draws those cues over the
cohort's synthetic skin and lesions; ``vignette=False`` draws the harder full-frame kind (a
lens adapter that fills the sensor). These are test positives, not training data: what the
check must accept is judged on real clinical photos (docs/stages.md, "Modality").
"""

from __future__ import annotations

import numpy as np

from skinrisk.synth.render import STYLES, lesion_geometry, lesion_mask, paint_lesion, render_skin

# Pigmented types: the ones a dermatoscope is used on most, and whose network it shows.
PIGMENTED = ("junctional_nevus", "intradermal_nevus", "seborrheic_keratosis",
             "malignant_melanoma", "dermatofibroma", "basal_cell_carcinoma")


def render_dermoscopy(seed: int, size: tuple[int, int] = (640, 480), *, vignette: bool = True,
                      fitzpatrick: int | None = None) -> np.ndarray:
    """An RGB uint8 (height, width, 3) dermoscopy-like image, fixed by ``seed``."""
    rng = np.random.default_rng(seed)
    w, h = size
    skin = render_skin(rng, size, fitzpatrick or int(rng.integers(1, 5)))
    skin = _furrows(rng, skin)
    style = STYLES[str(rng.choice(PIGMENTED))]
    geometry = lesion_geometry(rng, style)
    # Magnified: the lesion covers most of the field (radius 0.3-0.45 of the short side).
    zoom = float(rng.uniform(0.3, 0.45)) / geometry["radius"]
    center = (0.5 + rng.uniform(-0.06, 0.06), 0.5 + rng.uniform(-0.06, 0.06))
    mask, dist = lesion_mask(size, style, geometry, center, float(rng.uniform(0, np.pi)), zoom)
    pixels = paint_lesion(rng, skin, style, mask, dist)
    pixels = _pigment_network(rng, pixels, mask)
    pixels *= _ring_light(rng, (h, w))[..., None]
    pixels = _bubbles_and_glare(rng, pixels)
    if vignette:
        pixels = _vignette(rng, pixels)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def _furrows(rng: np.random.Generator, skin: np.ndarray) -> np.ndarray:
    """Skin furrows at 10x: a criss-cross of faint lines instead of pores."""
    import cv2

    h, w = skin.shape[:2]
    lines = np.zeros((h, w), np.float32)
    for angle in rng.uniform(0, np.pi, 2):
        step = max(4, int(min(h, w) / rng.uniform(18, 30)))
        for offset in range(-max(h, w), 2 * max(h, w), step):
            dx, dy = np.cos(angle), np.sin(angle)
            x0, y0 = offset * -dy + w / 2 - dx * 2 * w, offset * dx + h / 2 - dy * 2 * w
            cv2.line(lines, (int(x0), int(y0)), (int(x0 + dx * 4 * w), int(y0 + dy * 4 * w)),
                     1.0, 1, cv2.LINE_AA)
    return skin * (1.0 - 0.12 * cv2.GaussianBlur(lines, (3, 3), 0)[..., None])


def _pigment_network(rng: np.random.Generator, pixels: np.ndarray, mask: np.ndarray
                     ) -> np.ndarray:
    """A brown honeycomb (jittered grid joined to its neighbours) and a few dark globules."""
    import cv2

    h, w = mask.shape
    cell = max(5, int(min(h, w) / rng.uniform(14, 24)))
    ys, xs = np.mgrid[0:h + cell:cell, 0:w + cell:cell].astype(np.float32)
    xs += rng.uniform(-0.3, 0.3, xs.shape) * cell
    ys += rng.uniform(-0.3, 0.3, ys.shape) * cell
    net = np.zeros((h, w), np.float32)
    thickness = max(1, cell // 6)
    for i in range(xs.shape[0]):
        for j in range(xs.shape[1]):
            for di, dj in ((0, 1), (1, 0)):
                if i + di < xs.shape[0] and j + dj < xs.shape[1]:
                    cv2.line(net, (int(xs[i, j]), int(ys[i, j])),
                             (int(xs[i + di, j + dj]), int(ys[i + di, j + dj])), 1.0,
                             thickness, cv2.LINE_AA)
    for _ in range(int(rng.integers(5, 25))):  # globules
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        cv2.circle(net, (int(x), int(y)), max(1, cell // 4), 1.0, -1, cv2.LINE_AA)
    strength = float(rng.uniform(0.35, 0.6)) * mask  # fades out toward the border
    return pixels * (1.0 - strength * net)[..., None]


def _ring_light(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """The LED ring lights the centre most: a gentle radial fall-off."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot(xx - w / 2, yy - h / 2) / np.hypot(w / 2, h / 2)
    return 1.08 - float(rng.uniform(0.05, 0.25)) * r ** 2


def _bubbles_and_glare(rng: np.random.Generator, pixels: np.ndarray) -> np.ndarray:
    """Air bubbles in the immersion fluid (dark outline, bright rim) and specular glints."""
    import cv2

    h, w = pixels.shape[:2]
    out = np.ascontiguousarray(pixels, dtype=np.float32)
    side = min(h, w)
    for _ in range(int(rng.integers(2, 12))):
        x, y = int(rng.uniform(0.1, 0.9) * w), int(rng.uniform(0.1, 0.9) * h)
        radius = max(3, int(side * rng.uniform(0.01, 0.05)))
        cv2.circle(out, (x, y), radius, (60.0, 55.0, 50.0), max(1, radius // 6), cv2.LINE_AA)
        cv2.ellipse(out, (x, y), (radius - 1, radius - 1), 0, 200, 290, (255.0, 255.0, 255.0),
                    max(1, radius // 5), cv2.LINE_AA)
    for _ in range(int(rng.integers(1, 6))):  # glints of the fluid and the plate
        x, y = int(rng.uniform(0.2, 0.8) * w), int(rng.uniform(0.2, 0.8) * h)
        cv2.circle(out, (x, y), max(1, int(side * rng.uniform(0.004, 0.012))),
                   (255.0, 255.0, 255.0), -1, cv2.LINE_AA)
    return out


def _vignette(rng: np.random.Generator, pixels: np.ndarray) -> np.ndarray:
    """Black outside the lens's round field, with a soft edge and sensor noise."""
    import cv2

    h, w = pixels.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = w / 2 + rng.uniform(-0.03, 0.03) * w, h / 2 + rng.uniform(-0.03, 0.03) * h
    # From touching the short sides to leaving only the corners dark.
    radius = float(rng.uniform(0.55, 0.88)) * np.hypot(w / 2, h / 2)
    edge = max(2.0, 0.02 * min(h, w))
    inside = np.clip((radius - np.hypot(xx - cx, yy - cy)) / edge, 0, 1)
    inside = cv2.GaussianBlur(inside, (0, 0), edge / 2)[..., None]
    dark = rng.uniform(0, 14) + rng.normal(0, 2.0, pixels.shape).astype(np.float32)
    return pixels * inside + dark * (1 - inside)

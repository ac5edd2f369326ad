"""Drawing a lesion on skin: appearance that depends on the tumor type, so a small model can learn.

Each type has a style (colour relative to the skin, size, border irregularity, colour variegation,
surface texture, dome shading, scale, vessels, crust). Colours are ratios to a reference skin tone
(Fitzpatrick III) and multiply the patient's skin, so a nevus is darker than the skin it sits on at
every skin type, and red lesions are harder to see on dark skin, as in real photos. ``difficulty``
pulls every style toward the average and adds more per-image variation.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageDraw

# Approximate sRGB tones per Fitzpatrick type I..VI.
SKIN_TONES: dict[int, tuple[int, int, int]] = {
    1: (241, 212, 190), 2: (226, 188, 160), 3: (198, 152, 118),
    4: (160, 110, 78), 5: (112, 74, 50), 6: (70, 46, 34),
}
_REFERENCE = np.array(SKIN_TONES[3], dtype=np.float32)


@dataclass(frozen=True)
class LesionStyle:
    primary: tuple[int, int, int]  # colour as it would look on Fitzpatrick III skin
    secondary: tuple[int, int, int]
    radius: float  # fraction of the shorter image side
    irregularity: float  # border wobble, 0 = circle
    variegation: float  # share of the secondary colour, 0..1
    texture: float  # high-frequency surface noise
    dome: float = 0.0  # elevation shading
    scale: float = 0.0  # white flakes
    vessels: int = 0  # telangiectasia lines
    crust: float = 0.0  # yellow central crust
    papules: int = 0  # several small lesions instead of one (syringoma)


STYLES: dict[str, LesionStyle] = {
    "junctional_nevus": LesionStyle((105, 68, 45), (80, 50, 35), 0.13, 0.03, 0.15, 0.02),
    "intradermal_nevus": LesionStyle((165, 118, 92), (130, 90, 70), 0.16, 0.03, 0.1, 0.03,
                                     dome=0.25),
    "dermatofibroma": LesionStyle((150, 100, 82), (185, 150, 125), 0.12, 0.05, 0.4, 0.03,
                                  dome=0.1),
    "lipoma": LesionStyle((205, 160, 126), (200, 156, 122), 0.30, 0.04, 0.0, 0.01, dome=0.45),
    "seborrheic_keratosis": LesionStyle((118, 84, 52), (150, 112, 70), 0.19, 0.08, 0.35, 0.22),
    "basal_cell_carcinoma": LesionStyle((222, 170, 168), (240, 205, 200), 0.15, 0.06, 0.3, 0.03,
                                        dome=0.3, vessels=5),
    "bowens_disease": LesionStyle((200, 85, 72), (215, 120, 100), 0.22, 0.1, 0.3, 0.08,
                                  scale=0.25),
    "actinic_keratosis": LesionStyle((208, 122, 108), (225, 180, 160), 0.14, 0.12, 0.25, 0.12,
                                     scale=0.45),
    "squamous_cell_carcinoma": LesionStyle((178, 62, 52), (150, 45, 40), 0.21, 0.2, 0.3, 0.1,
                                           dome=0.3, crust=0.45),
    "malignant_melanoma": LesionStyle((45, 28, 22), (95, 95, 125), 0.21, 0.3, 0.55, 0.06),
    "hemangioma": LesionStyle((170, 32, 62), (140, 25, 55), 0.14, 0.04, 0.2, 0.02, dome=0.3),
    "syringoma": LesionStyle((222, 192, 150), (210, 180, 140), 0.035, 0.05, 0.1, 0.02,
                             dome=0.3, papules=9),
}
_MEAN_PRIMARY = np.mean([s.primary for s in STYLES.values()], axis=0)


def blend_style(style: LesionStyle, difficulty: float) -> LesionStyle:
    """Pull a style toward the average style; at difficulty 1 types differ only in shape detail."""
    pull = 0.8 * difficulty

    def mix(value: float, mean: float) -> float:
        return value + (mean - value) * pull

    primary = tuple(round(mix(c, m)) for c, m in zip(style.primary, _MEAN_PRIMARY, strict=True))
    return replace(style, primary=primary,  # type: ignore[arg-type]
                   irregularity=mix(style.irregularity, 0.1),
                   variegation=mix(style.variegation, 0.3))


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Low-frequency noise in [0, 1]: a coarse random grid upsampled bicubically."""
    coarse = rng.random((cells, cells)).astype(np.float32)
    img = Image.fromarray((coarse * 255).astype(np.uint8)).resize(
        (shape[1], shape[0]), Image.Resampling.BICUBIC)
    return np.asarray(img, dtype=np.float32) / 255.0


def render_skin(rng: np.random.Generator, size: tuple[int, int], fitzpatrick: int) -> np.ndarray:
    """Skin of the given type with uneven lighting and pores, float32 HxWx3 in 0..255."""
    w, h = size
    tone = np.array(SKIN_TONES[fitzpatrick], dtype=np.float32) * rng.uniform(0.93, 1.07, 3)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    gx, gy = rng.uniform(-0.15, 0.15, 2)
    light = 1.0 + gx * (xx / w - 0.5) + gy * (yy / h - 0.5)
    mottle = 0.94 + 0.12 * smooth_noise(rng, (h, w), 6)
    pores = rng.normal(0.0, 3.0, (h, w, 1)).astype(np.float32)
    return tone * (light * mottle)[..., None] + pores


def lesion_geometry(rng: np.random.Generator, style: LesionStyle) -> dict[str, np.ndarray | float]:
    """The lesion's shape, drawn once per lesion so every photo of it shows the same lesion."""
    return {
        "amplitudes": rng.normal(0.0, 1.0, 5).astype(np.float32),
        "phases": rng.uniform(0, 2 * np.pi, 5).astype(np.float32),
        "aspect": float(rng.uniform(0.75, 1.0)),
        "radius": float(style.radius * rng.uniform(0.8, 1.2)),
        "papule_xy": rng.uniform(-0.5, 0.5, (max(style.papules, 1), 2)).astype(np.float32),
    }


def lesion_mask(size: tuple[int, int], style: LesionStyle, geometry: dict,
                center: tuple[float, float], rotation: float, zoom: float) -> np.ndarray:
    """Soft lesion mask in [0, 1] and the normalised distance field (1 at the border)."""
    w, h = size
    side = min(w, h)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dx = (xx - center[0] * w) / side
    dy = (yy - center[1] * h) / side
    if style.papules:
        dist = np.full((h, w), np.inf, dtype=np.float32)
        for px, py in geometry["papule_xy"] * 0.6 * zoom:
            d = np.hypot(dx - px, dy - py) / (geometry["radius"] * zoom)
            dist = np.minimum(dist, d)
    else:
        theta = np.arctan2(dy, dx) - rotation
        wobble = sum(a * np.sin((k + 2) * theta + p) for k, (a, p) in
                     enumerate(zip(geometry["amplitudes"], geometry["phases"], strict=True)))
        radius = geometry["radius"] * zoom * (1.0 + style.irregularity * wobble / 2.0)
        ex = dx * np.cos(rotation) + dy * np.sin(rotation)
        ey = (-dx * np.sin(rotation) + dy * np.cos(rotation)) / geometry["aspect"]
        dist = np.hypot(ex, ey) / np.maximum(radius, 1e-3)
    mask = np.clip((1.0 - dist) / 0.12, 0.0, 1.0)
    return mask.astype(np.float32), dist.astype(np.float32)


def paint_lesion(rng: np.random.Generator, skin: np.ndarray, style: LesionStyle, mask: np.ndarray,
                 dist: np.ndarray) -> np.ndarray:
    """Composite the lesion's colours, texture, shading, scale and crust onto the skin."""
    h, w = mask.shape
    skin_ratio = skin / _REFERENCE
    primary = np.array(style.primary, np.float32) * skin_ratio
    secondary = np.array(style.secondary, np.float32) * skin_ratio
    blotch = smooth_noise(rng, (h, w), 5)
    share = np.clip((blotch - (1.0 - style.variegation)) * 4.0, 0.0, 1.0)[..., None]
    lesion = primary * (1 - share) + secondary * share
    lesion *= 1.0 + style.texture * (smooth_noise(rng, (h, w), 24)[..., None] - 0.5) * 2
    if style.dome:
        lesion *= 1.0 + style.dome * np.clip(1.0 - dist, 0, 1)[..., None] ** 2 * 0.5
    if style.scale:
        flakes = (rng.random((h, w)) < style.scale * 0.25) & (dist < 0.9)
        lesion[flakes] = lesion[flakes] * 0.3 + np.array([235, 228, 215], np.float32) * 0.7
    if style.crust:
        crust = np.clip((style.crust - dist) / 0.1, 0, 1)[..., None]
        lesion = lesion * (1 - crust) + np.array([200, 168, 92], np.float32) * skin_ratio * crust
    m = mask[..., None]
    return skin * (1 - m) + lesion * m


def draw_vessels(rng: np.random.Generator, img: Image.Image, count: int,
                 center: tuple[float, float], radius_px: float) -> None:
    """Thin branching red lines (telangiectasia) across the lesion, drawn in place."""
    draw = ImageDraw.Draw(img)
    cx, cy = center[0] * img.width, center[1] * img.height
    for _ in range(count):
        x, y = cx + rng.uniform(-0.6, 0.6) * radius_px, cy + rng.uniform(-0.6, 0.6) * radius_px
        points = [(x, y)]
        angle = rng.uniform(0, 2 * np.pi)
        for _ in range(6):
            angle += rng.normal(0, 0.6)
            x += np.cos(angle) * radius_px * 0.18
            y += np.sin(angle) * radius_px * 0.18
            points.append((x, y))
        draw.line(points, fill=(185, 40, 50), width=1)


def to_image(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")

"""Injectable photo defects: the ones the paper filtered out, plus broken and duplicated files.

Each function changes a rendered photo the way the real defect would, so the quality stage's
checks can be scored against the truth sidecar. Corruption and duplication act on file bytes,
not pixels, and are applied by the cohort writer.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from skinrisk.defects import Defect

PIXEL_DEFECTS = (Defect.BLUR, Defect.DYE, Defect.HAIR, Defect.EXUDATE)

DYES: dict[str, tuple[int, int, int]] = {
    "gentian_violet": (110, 40, 150),
    "iodine": (170, 100, 25),
    "marker_ink": (30, 60, 170),
}
BACKGROUNDS = ((60, 110, 140), (90, 140, 90), (128, 128, 128), (40, 40, 45))


def apply_blur(rng: np.random.Generator, img: Image.Image) -> Image.Image:
    radius = min(img.size) * rng.uniform(0.025, 0.045)
    return img.filter(ImageFilter.GaussianBlur(radius))


def apply_dye(rng: np.random.Generator, img: Image.Image, center: tuple[float, float],
              radius_px: float) -> tuple[Image.Image, str]:
    """A surgical-marker ring and dots, or an iodine wash, over and around the lesion."""
    kind = str(rng.choice(sorted(DYES)))
    colour = DYES[kind]
    overlay = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    cx, cy = center[0] * img.width, center[1] * img.height
    if kind == "iodine":
        r = radius_px * rng.uniform(1.6, 2.2)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(*colour, 150))
    else:
        r = radius_px * rng.uniform(1.3, 1.7)
        width = max(2, int(min(img.size) * 0.03))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(*colour, 235), width=width)
        for _ in range(int(rng.integers(4, 9))):
            x, y = cx + rng.normal(0, r * 0.5), cy + rng.normal(0, r * 0.5)
            d = width * 1.2
            draw.ellipse((x - d, y - d, x + d, y + d), fill=(*colour, 220))
    return Image.alpha_composite(img.convert("RGBA"), overlay).convert("RGB"), kind


def apply_hair(rng: np.random.Generator, img: Image.Image) -> Image.Image:
    """Dozens of dark, curved strands crossing the whole photo."""
    draw = ImageDraw.Draw(img)
    w, h = img.size
    shade = int(rng.integers(15, 45))
    for _ in range(int(rng.integers(35, 70))):
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        angle = rng.uniform(0, 2 * np.pi)
        points = [(x, y)]
        for _ in range(12):
            angle += rng.normal(0, 0.12)
            x += np.cos(angle) * w * 0.05
            y += np.sin(angle) * h * 0.05
            points.append((x, y))
        draw.line(points, fill=(shade, shade - 5 if shade > 5 else 0, 0),
                  width=max(1, round(min(w, h) / 110)))
    return img


def apply_exudate(rng: np.random.Generator, img: Image.Image, center: tuple[float, float],
                  radius_px: float) -> Image.Image:
    """Fresh blood on the lesion, wet, with bright specular glints: what the wet lesions of
    PAD-UFES-20 labelled by eye show (docs/quality-labels.csv), not a pale film."""
    overlay = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    cx, cy = center[0] * img.width, center[1] * img.height
    r = radius_px * 1.1
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(205, 28, 30, 210))
    for _ in range(int(rng.integers(10, 22))):
        x, y = cx + rng.normal(0, r * 0.45), cy + rng.normal(0, r * 0.45)
        d = max(2.0, radius_px * rng.uniform(0.06, 0.15))
        draw.ellipse((x - d, y - d, x + d, y + d), fill=(255, 255, 255, 255))
    # Specular highlights clip to pure white, as a phone camera records them.
    return Image.alpha_composite(img.convert("RGBA"), overlay).convert("RGB")


def place_on_background(rng: np.random.Generator, photo: Image.Image) -> Image.Image:
    """Shrink the skin to a finger-tip-sized patch on a drape: background outweighs skin."""
    w, h = photo.size
    colour = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    canvas = Image.new("RGB", (w, h), colour)
    scale = rng.uniform(0.32, 0.42)
    pw, ph = int(w * scale), int(h * scale * 1.25)
    patch = photo.resize((pw, ph), Image.Resampling.LANCZOS)
    mask = Image.new("L", (pw, ph), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, pw - 1, ph - 1), fill=255)
    x = int(rng.uniform(0.1, 0.9) * (w - pw))
    y = int(rng.uniform(0.1, 0.9) * (h - ph)) if h > ph else 0
    canvas.paste(patch, (x, y), mask.filter(ImageFilter.GaussianBlur(2)))
    return canvas


def corrupt_bytes(rng: np.random.Generator, data: bytes) -> bytes:
    """Truncate the encoded file: the header survives, the image data does not."""
    return data[: max(64, int(len(data) * rng.uniform(0.2, 0.5)))]

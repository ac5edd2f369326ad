"""Scores for one working image. Each returns a number; decide.py compares it with a threshold.

All scores are fractions of pixels or normalised measures, so they do not depend on the
working copy's size. Colour rules work in HSV and YCrCb, and were calibrated on the synthetic
cohort's truth and the PAD-UFES-20 sample (README, "Quality": figures and contact sheets).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from skinrisk.quality.appearance import score_appearance
from skinrisk.quality.modality import score_modality


@dataclass(frozen=True)
class Scores:
    sharpness: float  # variance of the Laplacian of the grey image (higher = sharper)
    dark_fraction: float  # pixels nearly black
    bright_fraction: float  # pixels nearly white
    skin_fraction: float  # pixels in the YCrCb skin range
    dye_fraction: float  # saturated violet, blue or iodine-orange pixels
    hair_fraction: float  # thin dark strands (morphological black-hat)
    gloss_fraction: float  # specular glints: very bright, unsaturated
    faces: int  # frontal faces found
    phash: int  # 64-bit DCT perceptual hash
    vignette: float  # modality.py: a dermatoscope's round black surround
    bubbles: int  # modality.py: immersion-fluid bubbles
    brightness: float  # appearance.py: mean value, for drift
    saturation: float  # appearance.py: mean saturation, for drift
    redness: float  # appearance.py: mean CIELAB a*, for drift


def score_image(rgb: np.ndarray) -> Scores:
    import cv2

    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    skin = skin_mask(rgb)
    return Scores(
        sharpness=score_sharpness(gray),
        dark_fraction=float((gray < 20).mean()),
        bright_fraction=float((gray > 245).mean()),
        skin_fraction=float(skin.mean()),
        dye_fraction=score_dye(hsv, skin),
        hair_fraction=score_hair(gray),
        gloss_fraction=score_gloss(hsv),
        faces=count_faces(gray),
        phash=perceptual_hash(gray),
        **asdict(score_modality(gray)),
        **asdict(score_appearance(rgb, hsv)),
    )


def score_sharpness(gray: np.ndarray) -> float:
    """The 90th percentile over an 8x8 grid of tiles of the Laplacian's variance.

    Per tile, so a sharp lesion on a plain background (or a finger tip on a drape) is not
    mistaken for a blurred photo: a blurred photo has no sharp tile at all.
    """
    import cv2

    lap = cv2.Laplacian(gray, cv2.CV_64F)
    h, w = lap.shape
    tiles = [lap[i * h // 8:(i + 1) * h // 8, j * w // 8:(j + 1) * w // 8].var()
             for i in range(8) for j in range(8)]
    return float(np.percentile(tiles, 90))


def skin_mask(rgb: np.ndarray) -> np.ndarray:
    """Skin-coloured pixels: the classic YCrCb box, which holds across skin types."""
    import cv2

    ycrcb = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    cr, cb = ycrcb[..., 1].astype(np.int16), ycrcb[..., 2].astype(np.int16)
    return (cr >= 133) & (cr <= 180) & (cb >= 70) & (cb <= 130)


def score_dye(hsv: np.ndarray, skin: np.ndarray) -> float:
    """Violet/blue ink (gentian violet, marker) or iodine-orange on or beside the skin.

    Only pixels within a few pixels of skin count: a blue drape behind a finger is not dye.
    """
    import cv2

    h = hsv[..., 0].astype(np.int16) * 2  # OpenCV hue is 0..179
    s, v = hsv[..., 1], hsv[..., 2]
    # Calibrated on PAD-UFES-20: darker violet catches melanomas' blue-grey veil, and a
    # looser orange catches crusts, seborrheic keratoses and yellowish skin.
    violet_blue = (h >= 215) & (h <= 320) & (s >= 150) & (v >= 70)
    iodine = (h >= 22) & (h <= 42) & (s >= 215) & (v >= 110)
    reach = max(3, round(max(skin.shape) / 30))
    near_skin = cv2.dilate(skin.astype(np.uint8), np.ones((reach, reach), np.uint8)) > 0
    return float(((violet_blue | iodine) & near_skin).mean())


def score_hair(gray: np.ndarray) -> float:
    """Thin, long, dark strands: a relative black-hat, keeping only elongated components.

    Relative, so that hair on dark skin counts; elongated, so that a lesion's dark speckles
    (seborrheic keratosis, melanoma) do not.
    """
    import cv2

    side = max(gray.shape)
    size = max(5, round(side / 40) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
    closed = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, kernel).astype(np.float32)
    darker = (closed - gray.astype(np.float32)) / (closed + 1.0)
    mask = ((darker > 0.3) & (closed - gray > 12)).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    long = np.zeros(count, dtype=bool)
    long[1:] = np.maximum(stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT]) >= side / 8
    return float(long[labels].mean())


def score_gloss(hsv: np.ndarray) -> float:
    """Specular glints of a wet surface: small, white, unsaturated spots brighter than around.

    Thresholds chosen on the synthetic truth (README, "Quality"); a lesion's white scale is
    less bright and less white than a glint.
    """
    import cv2

    v = hsv[..., 2]
    size = max(5, round(max(v.shape) / 25) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    tophat = cv2.morphologyEx(v, cv2.MORPH_TOPHAT, kernel)
    return float(((tophat > 20) & (v >= 245) & (hsv[..., 1] <= 20)).mean())


_FACES = None


def count_faces(gray: np.ndarray) -> int:
    """Frontal faces at least a fifth of the image's short side (a privacy block, not a grade)."""
    import cv2

    global _FACES
    if _FACES is None:
        _FACES = cv2.CascadeClassifier(cv2.data.haarcascades
                                       + "haarcascade_frontalface_default.xml")
    side = min(gray.shape)
    # minNeighbors 12: no false face in the 516 PAD-UFES-20 photos, a portrait still found.
    found = _FACES.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=12,
                                    minSize=(side // 5, side // 5))
    return len(found)


def perceptual_hash(gray: np.ndarray) -> int:
    """64-bit pHash: the signs of the low 8x8 DCT frequencies of a 32x32 thumbnail."""
    import cv2

    small = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].flatten()
    bits = low[1:] > np.median(low[1:])
    return int("".join("1" if b else "0" for b in bits), 2)

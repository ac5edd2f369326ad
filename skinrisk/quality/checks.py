"""Scores for one working image. Each returns a number; decide.py compares it with a threshold.

All scores are fractions of pixels or normalised measures, so they do not depend on the
working copy's size. The checks that judge real photos (ink, hair, exudate, skin) were designed
on the PAD-UFES-20 sample labelled by eye (docs/quality-labels.csv; figures from `make calibrate`
in docs/quality-calibration.md); the synthetic cohort's truth only says that each one runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from skinrisk.quality.appearance import score_appearance
from skinrisk.quality.exudate import score_exudate
from skinrisk.quality.faces import count_faces
from skinrisk.quality.hair import score_hair
from skinrisk.quality.modality import score_modality
from skinrisk.quality.planes import Planes


@dataclass(frozen=True)
class Scores:
    sharpness: float  # variance of the Laplacian of the grey image (higher = sharper)
    dark_fraction: float  # pixels nearly black
    bright_fraction: float  # pixels nearly white
    skin_fraction: float  # pixels near the photo's own skin tone (skin_mask)
    dye_fraction: float  # marker-ink lines of any colour (dye_mask)
    hair_fraction: float  # hair.py: thin long lines darker or lighter than both sides
    gloss_fraction: float  # specular glints anywhere: glare, for drift (not a check)
    wet_fraction: float  # exudate.py: highlights on or beside blood-red tissue
    faces: int  # faces.py: frontal or profile faces, or an eye at the frame's edge
    phash: int  # 64-bit DCT perceptual hash
    vignette: float  # modality.py: a dermatoscope's round black surround
    bubbles: int  # modality.py: immersion-fluid bubbles
    brightness: float  # appearance.py: mean value, for drift
    saturation: float  # appearance.py: mean saturation, for drift
    redness: float  # appearance.py: mean CIELAB a*, for drift


def score_image(rgb: np.ndarray) -> Scores:
    image = Planes.of(rgb)
    gray = image.gray
    return Scores(
        sharpness=score_sharpness(gray),
        dark_fraction=float((gray < 20).mean()),
        bright_fraction=float((gray > 245).mean()),
        skin_fraction=float(skin_mask(image).mean()),
        dye_fraction=score_dye(rgb),
        hair_fraction=score_hair(image),
        gloss_fraction=score_gloss(image.hsv),
        wet_fraction=score_exudate(image),
        faces=count_faces(image),
        phash=perceptual_hash(gray),
        **asdict(score_modality(gray)),
        **asdict(score_appearance(image)),
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


def skin_mask(image: Planes) -> np.ndarray:
    """Pixels within a chroma distance of the image's own dominant skin tone.

    Why relative: the fixed YCrCb box fails on skin under a colour cast and on very pale skin
    (PAD-UFES-20: a purple cast 62340919, near-white skin a51ebc84, a yellow cast f4312508 -> skin
    fractions 0.03, 0.13, 0.19, all flagged background_dominant, none a small site). Skin within
    one photo is one tone, whatever the camera's white balance did to it, and a drape, glove or
    table differs from it in chroma.

    1. A wide gate for what may be skin at all, in CIELAB chroma (a*, b*): warm hues from purple-
       red (-45 deg, skin under a magenta cast) through yellow (115 deg, skin under a yellow cast),
       chroma >= 4 (not a grey or white drape), L* > 20 (not a black drape or shadow). Surgical
       drapes (blue ~-130 deg, green ~140 deg), grey, white and black lie outside it.
    2. The dominant tone: the median (a*, b*) of the gated pixels. In a finger-tip photo the drape
       is outside the gate, so the tone is the finger's, even when the drape fills the frame.
    3. Skin: pixels within max(8, 0.6 * tone chroma) of that tone in (a*, b*), L* > 20. The radius
       grows with chroma because saturated (dark, tanned, red) skin varies more in chroma than
       pale skin; 8 units keeps pale skin from shrinking to nothing. Lightness is not compared:
       shading and uneven light change L* across skin far more than chroma.
    Limits: a beige/brown table or wooden surface, or a skin-coloured glove, passes the gate and
    would be read as skin (as with the YCrCb box).
    """
    lab = image.lab
    light = lab[..., 0].astype(np.float32) * (100 / 255)
    a = lab[..., 1].astype(np.float32) - 128
    b = lab[..., 2].astype(np.float32) - 128
    chroma, hue = image.chroma_hue()
    lit = light > 20
    gate = (hue > -45) & (hue < 115) & (chroma >= 4) & lit
    if gate.mean() < 0.02:
        return np.zeros(light.shape, dtype=bool)
    tone_a, tone_b = float(np.median(a[gate])), float(np.median(b[gate]))
    radius = max(8.0, 0.6 * float(np.hypot(tone_a, tone_b)))
    return (np.hypot(a - tone_a, b - tone_b) <= radius) & lit


def score_dye(rgb: np.ndarray) -> float:
    """The fraction of pixels in marker-ink lines (dye_mask)."""
    return float(dye_mask(rgb).mean())


def dye_mask(rgb: np.ndarray, whole_lines: bool = False) -> np.ndarray:
    """Marker ink and dye beside the lesion: thin lines cooler (bluer, darker) than the skin
    around them, of any saturation.

    Redesigned on real photos labelled by eye (docs/quality-labels.csv): surgical-marker rings
    in PAD-UFES-20 are mostly faded violet, grey or black, far less saturated than a fixed
    violet hue rule expects, while violaceous lesions, blue nevi and a blue shirt are saturated.
    So the rule is relative and structural: per pixel, how much cooler (CIELAB b* lower than
    a* would explain) and darker it is than the local median, kept only where it forms a thin
    structure (top-hat narrower than a lesion) in components at least a twentieth of the frame
    long, where the neighbourhood is as light as skin. Returns those lines' pixels (bool);
    ``whole_lines``: with their fainter parts too, the mask pack paints out where
    quality.actions.dye is inpaint (the check scores the cores only, as calibrated).
    """
    import cv2

    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
    side = max(rgb.shape[:2])
    local = max(3, round(side / 15)) | 1
    med = [cv2.medianBlur(np.ascontiguousarray(lab[..., i]), local).astype(np.float32)
           for i in range(3)]
    light, a, b = (lab[..., i].astype(np.float32) for i in range(3))
    cooler = np.clip(med[2] - b, 0, None) - 0.5 * np.clip(med[1] - a, 0, None)
    darker = np.clip(med[0] - light, 0, None) * 100 / 255
    shift = cooler + darker * (cooler > 1.5)  # dark only counts where the hue turned cool too
    # Ink is drawn on skin: around a line the neighbourhood is as light as skin. Inside a dark
    # lesion it is not, so a melanoma's blue-grey veil or a dark nevus is not read as ink.
    shift *= med[0] >= np.percentile(light, 15)
    # In half units as 8 bits: OpenCV's morphology is several times faster on uint8; half a
    # CIELAB unit is far below the threshold of 6 units, and shifts past 127 are all ink.
    halves = np.clip(shift * 2, 0, 255).astype(np.uint8)
    thin = max(3, round(side / 20)) | 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (thin, thin))
    tophat = cv2.morphologyEx(halves, cv2.MORPH_TOPHAT, kernel)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        (tophat > 12).astype(np.uint8), connectivity=8)
    long = np.zeros(count, dtype=bool)
    long[1:] = np.maximum(stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT]) >= side / 20
    lines = long[labels]
    if not whole_lines:
        return lines
    # Hysteresis: the rest of each line, fainter or merely darker than the skin (a thin dark
    # structure), where it touches a line found -- and only in a narrow band around the lines
    # found, so that it cannot run along hair, skin texture or a lesion's border into the photo.
    dark = cv2.morphologyEx(lab[..., 0], cv2.MORPH_BLACKHAT, kernel)
    reach = max(3, round(side / 50) | 1)
    band = cv2.dilate(lines.astype(np.uint8),
                      cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (reach, reach))) > 0
    weak = ((tophat > 6) | (dark > 20)) & band
    count, labels = cv2.connectedComponents(weak.astype(np.uint8), connectivity=8)
    touched = np.zeros(count, dtype=bool)
    touched[np.unique(labels[lines])] = True
    touched[0] = False
    return touched[labels]


def score_gloss(hsv: np.ndarray) -> float:
    """Specular glints anywhere: small, white, unsaturated spots brighter than around.

    Not a test of wetness: glints fire on the pearly and keratotic surfaces of dry lesions too
    (exudate.py judges wetness). Glare is what sets a dermoscopy set apart from clinical photos,
    so it is a drift measure (validate's `glare` band).
    """
    import cv2

    v = hsv[..., 2]
    size = max(5, round(max(v.shape) / 25) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    tophat = cv2.morphologyEx(v, cv2.MORPH_TOPHAT, kernel)
    return float(((tophat > 20) & (v >= 245) & (hsv[..., 1] <= 20)).mean())


def perceptual_hash(gray: np.ndarray) -> int:
    """64-bit pHash: the signs of the low 8x8 DCT frequencies of a 32x32 thumbnail."""
    import cv2

    small = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].flatten()
    bits = low[1:] > np.median(low[1:])
    return int("".join("1" if b else "0" for b in bits), 2)

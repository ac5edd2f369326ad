"""A synthetic hospital cohort: patients with lesions, several photos each, some of them defective.

``plan_cohort`` decides everything (who, which lesion, which defects) from the seed;
``render_cohort`` draws and encodes each photo. Every photo has its own random stream derived
from (seed, lesion, photo), so the same seed gives the same bytes whatever the order or count of
photos rendered.
The truth (tumor type, real skin type, defects) goes to a sidecar, never into the manifest.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from skinrisk.batch import ManifestRow
from skinrisk.config import SynthParams
from skinrisk.defects import Defect
from skinrisk.synth import defects as fx
from skinrisk.synth.render import (
    STYLES,
    blend_style,
    draw_vessels,
    lesion_geometry,
    lesion_mask,
    paint_lesion,
    render_skin,
    to_image,
)
from skinrisk.taxonomy import resolve_diagnosis

SITES = ("face", "scalp", "neck", "chest", "back", "arm", "forearm", "hand", "thigh", "leg")
DEVICES = ("iPhone 13", "Galaxy S21", "Pixel 7", "Canon EOS 90D")
TRUTH_COLUMNS = ("file_name", "patient_id", "lesion_id", "tumor_type", "grade", "fitzpatrick",
                 "source", "defects", "dye", "duplicate_of")


@dataclass(frozen=True)
class PlannedPhoto:
    index: int
    row: ManifestRow
    tumor_type: str
    true_fitzpatrick: int
    lesion_seed: int
    photo_seed: int
    defects: tuple[Defect, ...]
    duplicate_of: str | None = None  # file name of the photo this one repeats


@dataclass(frozen=True)
class SynthPhoto:
    plan: PlannedPhoto
    data: bytes
    dye: str | None

    def truth(self) -> dict[str, str]:
        p = self.plan
        return {
            "file_name": p.row.file_name, "patient_id": p.row.patient_id,
            "lesion_id": p.row.lesion_id, "tumor_type": p.tumor_type,
            "grade": resolve_diagnosis(p.tumor_type).grade.value,
            "fitzpatrick": str(p.true_fitzpatrick), "source": p.row.source,
            "defects": ";".join(d.value for d in p.defects), "dye": self.dye or "",
            "duplicate_of": p.duplicate_of or "",
        }


def plan_cohort(params: SynthParams) -> list[PlannedPhoto]:
    """Patients, lesions and photos up to ``params.images`` photos, duplicates included."""
    rng = np.random.default_rng(params.seed)
    n_duplicates = round(params.images * params.defect_rates.get(Defect.DUPLICATE, 0.0))
    n_originals = max(1, params.images - n_duplicates)
    photos: list[PlannedPhoto] = []
    patient_ids: set[str] = set()
    while len(photos) < n_originals:
        patient = _new_patient_id(rng, patient_ids)
        source = str(rng.choice(params.sources))
        weights = np.array(params.fitzpatrick_weights) / sum(params.fitzpatrick_weights)
        fitzpatrick = int(rng.choice(6, p=weights)) + 1
        for _ in range(_draw(rng, params.lesions_per_patient)):
            tumor_type = str(rng.choice(params.tumor_types))
            lesion_id = f"L{int(rng.integers(10**5, 10**6))}"
            lesion_seed = int(rng.integers(2**31))
            site = str(rng.choice(SITES))
            for _ in range(_draw(rng, params.images_per_lesion)):
                if len(photos) == n_originals:
                    break
                defects = _draw_defects(rng, params)
                row = _row(rng, params, len(photos), patient, lesion_id, tumor_type, fitzpatrick,
                           "finger" if Defect.TINY_LESION in defects else site, source)
                photos.append(PlannedPhoto(len(photos), row, tumor_type, fitzpatrick, lesion_seed,
                                           int(rng.integers(2**31)), defects))
    return photos + _plan_duplicates(rng, params, photos, n_duplicates)


def _new_patient_id(rng: np.random.Generator, taken: set[str]) -> str:
    # Looks like a hospital record number on purpose: ingest must replace it.
    while (pid := f"MRN{int(rng.integers(10**6, 10**7))}") in taken:
        pass
    taken.add(pid)
    return pid


def _draw(rng: np.random.Generator, bounds: tuple[int, int]) -> int:
    return int(rng.integers(bounds[0], bounds[1] + 1))


def _draw_defects(rng: np.random.Generator, params: SynthParams) -> tuple[Defect, ...]:
    if rng.random() < params.defect_rates.get(Defect.CORRUPT, 0.0):
        return (Defect.CORRUPT,)
    pixel = (*fx.PIXEL_DEFECTS, Defect.TINY_LESION)
    return tuple(d for d in pixel if rng.random() < params.defect_rates.get(d, 0.0))


def _row(rng: np.random.Generator, params: SynthParams, index: int, patient: str, lesion: str,
         tumor_type: str, fitzpatrick: int, site: str, source: str) -> ManifestRow:
    recorded = None if rng.random() < params.missing_fitzpatrick_rate else fitzpatrick
    suffix = "png" if params.image_format == "png" else "jpg"
    return ManifestRow(
        line=index + 2, file_name=f"images/IMG_{index:05d}.{suffix}", patient_id=patient,
        lesion_id=lesion, diagnosis=tumor_type, pathology_verified=bool(rng.random() < 0.95),
        body_site=site, fitzpatrick=recorded, ethnicity=None,
        capture_date=f"{int(rng.integers(2023, 2027))}-{int(rng.integers(1, 13)):02d}-"
                     f"{int(rng.integers(1, 29)):02d}",
        device=str(rng.choice(DEVICES)), source=source,
    )


def _plan_duplicates(rng: np.random.Generator, params: SynthParams,
                     originals: list[PlannedPhoto], count: int) -> list[PlannedPhoto]:
    """The same photo sent again under a new name; some byte-identical, some re-encoded."""
    candidates = [p for p in originals if Defect.CORRUPT not in p.defects]
    if not candidates:
        return []
    out = []
    for k in range(count):
        src = candidates[int(rng.integers(len(candidates)))]
        index = len(originals) + k
        stem, suffix = src.row.file_name.rsplit(".", 1)
        name = f"{stem.rsplit('_', 1)[0]}_{index:05d}.{suffix}"
        row = replace(src.row, line=index + 2, file_name=name)
        out.append(PlannedPhoto(index, row, src.tumor_type, src.true_fitzpatrick, src.lesion_seed,
                                int(rng.integers(2**31)), (*src.defects, Defect.DUPLICATE),
                                duplicate_of=src.row.file_name))
    return out


def render_cohort(params: SynthParams, plan: list[PlannedPhoto] | None = None
                  ) -> Iterator[SynthPhoto]:
    """Render every planned photo; duplicates repeat (or re-encode) an earlier photo's bytes."""
    plan = plan_cohort(params) if plan is None else plan
    wanted = {p.duplicate_of for p in plan if p.duplicate_of}
    kept: dict[str, SynthPhoto] = {}
    for photo in plan:
        if photo.duplicate_of:
            yield _duplicate(kept[photo.duplicate_of], photo, params)
            continue
        rendered = render_photo(photo, params)
        if photo.row.file_name in wanted:
            kept[photo.row.file_name] = rendered
        yield rendered


def render_photo(photo: PlannedPhoto, params: SynthParams) -> SynthPhoto:
    size = (params.width, params.height)
    lesion_rng = np.random.default_rng([params.seed, photo.lesion_seed])
    rng = np.random.default_rng([params.seed, photo.lesion_seed, photo.photo_seed])
    style = blend_style(STYLES[photo.tumor_type], params.difficulty)
    geometry = lesion_geometry(lesion_rng, style)
    jitter = 0.03 + 0.05 * params.difficulty
    center = (0.5 + float(rng.normal(0, jitter)), 0.5 + float(rng.normal(0, jitter)))
    zoom = float(rng.uniform(0.85, 1.15))
    mask, dist = lesion_mask(size, style, geometry, center, float(rng.uniform(0, 2 * np.pi)), zoom)
    img = to_image(paint_lesion(rng, render_skin(rng, size, photo.true_fitzpatrick), style,
                                mask, dist))
    radius_px = float(geometry["radius"]) * zoom * min(size)
    if style.vessels:
        draw_vessels(rng, img, style.vessels, center, radius_px)
    img, dye = _apply_pixel_defects(rng, img, photo.defects, center, radius_px)
    data = encode(img, params.image_format)
    if Defect.CORRUPT in photo.defects:
        data = fx.corrupt_bytes(rng, data)
    return SynthPhoto(photo, data, dye)


def _apply_pixel_defects(rng: np.random.Generator, img: Image.Image, defects: tuple[Defect, ...],
                         center: tuple[float, float], radius_px: float
                         ) -> tuple[Image.Image, str | None]:
    dye = None
    # Order matters: things on the skin first, then framing, then the camera's blur.
    if Defect.DYE in defects:
        img, dye = fx.apply_dye(rng, img, center, radius_px)
    if Defect.EXUDATE in defects:
        img = fx.apply_exudate(rng, img, center, radius_px)
    if Defect.HAIR in defects:
        img = fx.apply_hair(rng, img)
    if Defect.TINY_LESION in defects:
        img = fx.place_on_background(rng, img)
    if Defect.BLUR in defects:
        img = fx.apply_blur(rng, img)
    return img, dye


def _duplicate(original: SynthPhoto, photo: PlannedPhoto, params: SynthParams) -> SynthPhoto:
    rng = np.random.default_rng([params.seed, photo.photo_seed])
    if rng.random() < 0.5:
        return SynthPhoto(photo, original.data, original.dye)
    # Near-duplicate: cropped by a few pixels and re-encoded, so the bytes differ.
    img = Image.open(io.BytesIO(original.data)).convert("RGB")
    w, h = img.size
    d = max(1, min(w, h) // 50)
    img = img.crop((d, d, w - d, h - d)).resize((w, h), Image.Resampling.BILINEAR)
    return SynthPhoto(photo, encode(img, params.image_format, quality=85), original.dye)


def encode(img: Image.Image, image_format: str, quality: int = 92) -> bytes:
    out = io.BytesIO()
    if image_format == "png":
        img.save(out, format="PNG", optimize=False)
    else:
        img.save(out, format="JPEG", quality=quality)
    return out.getvalue()

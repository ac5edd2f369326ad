"""The synthetic cohort: deterministic, realistic in structure, and honest about its defects."""

import io
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from skinrisk.config import SynthParams
from skinrisk.defects import Defect
from skinrisk.synth.cohort import plan_cohort, render_cohort, render_photo
from skinrisk.synth.defects import BACKGROUNDS, DYES
from skinrisk.taxonomy import grade_diagnosis


def small(**overrides: object) -> SynthParams:
    """A small, validated cohort spec."""
    return SynthParams(**{"images": 40, "width": 96, "height": 72, "seed": 3, **overrides})


SMALL = small()


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float32)


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    first = [p.data for p in render_cohort(SMALL)]
    again = [p.data for p in render_cohort(SMALL)]
    other = [p.data for p in render_cohort(small(seed=4))]
    assert first == again
    assert sum(a != b for a, b in zip(first, other, strict=True)) == len(first)


def test_a_photo_does_not_depend_on_how_many_others_are_rendered() -> None:
    few = list(render_cohort(small(images=5)))
    many = list(render_cohort(SMALL))
    assert [p.data for p in few] == [p.data for p in many[:5]]


def test_cohort_has_several_photos_per_patient_and_lesion() -> None:
    rows = [p.row for p in plan_cohort(small(images=200))]
    assert len(rows) == 200
    assert len({r.file_name for r in rows}) == 200
    per_patient = Counter(r.patient_id for r in rows)
    per_lesion = Counter((r.patient_id, r.lesion_id) for r in rows)
    assert max(per_patient.values()) > 1 and max(per_lesion.values()) > 1
    # A lesion belongs to one patient and has one diagnosis.
    diagnosis = {}
    for r in rows:
        assert diagnosis.setdefault((r.patient_id, r.lesion_id), r.diagnosis) == r.diagnosis


def test_sources_and_all_six_skin_types_appear() -> None:
    plan = plan_cohort(small(images=300, sources=("h1", "h2", "h3")))
    assert {p.row.source for p in plan} == {"h1", "h2", "h3"}
    assert {p.true_fitzpatrick for p in plan} == {1, 2, 3, 4, 5, 6}


def test_skin_gets_darker_with_fitzpatrick_type() -> None:
    brightness = {}
    for fitz in range(1, 7):
        params = small(images=6, fitzpatrick_weights=tuple(
            1.0 if k == fitz else 0.0 for k in range(1, 7)))
        # The frame's border is skin, away from the lesion.
        border = [np.concatenate([pixels(p.data)[:6].ravel(), pixels(p.data)[-6:].ravel()])
                  for p in render_cohort(params)]
        brightness[fitz] = float(np.mean(border))
    assert [brightness[k] for k in range(1, 7)] == sorted(brightness.values(), reverse=True)


def test_missing_skin_type_is_missing_in_the_manifest_but_known_to_the_truth() -> None:
    photos = list(render_cohort(small(images=10, missing_fitzpatrick_rate=1.0)))
    assert all(p.plan.row.fitzpatrick is None for p in photos)
    assert all(p.truth()["fitzpatrick"] in {"1", "2", "3", "4", "5", "6"} for p in photos)


def _counterfactual(defect: Defect, seed: int = 11) -> tuple[np.ndarray, np.ndarray, str | None]:
    """The same photo rendered with and without one defect."""
    params = small(width=160, height=120, seed=seed)
    photo = plan_cohort(params.model_copy(update={'images': 1}))[0]
    clean = render_photo(replace(photo, defects=()), params)
    dirty = render_photo(replace(photo, defects=(defect,)), params)
    return pixels(clean.data), pixels(dirty.data), dirty.dye


def _laplacian_variance(img: np.ndarray) -> float:
    g = img.mean(axis=2)
    lap = g[1:-1, :-2] + g[1:-1, 2:] + g[:-2, 1:-1] + g[2:, 1:-1] - 4 * g[1:-1, 1:-1]
    return float(lap.var())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_blur_removes_fine_detail(seed: int) -> None:
    clean, dirty, _ = _counterfactual(Defect.BLUR, seed)
    assert _laplacian_variance(dirty) < 0.5 * _laplacian_variance(clean)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_dye_puts_a_dye_colour_on_the_photo(seed: int) -> None:
    clean, dirty, dye = _counterfactual(Defect.DYE, seed)
    assert dye in DYES
    target = np.array(DYES[dye], np.float32)
    # Iodine is a translucent wash, so compare the shift toward the dye colour.
    toward = np.linalg.norm(clean - target, axis=2) - np.linalg.norm(dirty - target, axis=2)
    assert (toward > 20).mean() > 0.03


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hair_adds_many_dark_strands(seed: int) -> None:
    clean, dirty, _ = _counterfactual(Defect.HAIR, seed)
    dark = lambda img: (img.max(axis=2) < 60).mean()  # noqa: E731
    skin_dark = dark(clean)
    assert dark(dirty) > skin_dark + 0.03


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_exudate_adds_specular_glints(seed: int) -> None:
    clean, dirty, _ = _counterfactual(Defect.EXUDATE, seed)
    glint = lambda img: (img.min(axis=2) > 235).sum()  # noqa: E731
    assert glint(dirty) >= glint(clean) + 10


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_tiny_lesion_leaves_background_outweighing_skin(seed: int) -> None:
    _, dirty, _ = _counterfactual(Defect.TINY_LESION, seed)
    near_background = max(
        (np.linalg.norm(dirty - np.array(bg, np.float32), axis=2) < 25).mean()
        for bg in BACKGROUNDS)
    assert near_background > 0.5


def test_corrupt_files_do_not_decode_and_clean_ones_do() -> None:
    params = small(images=30, defect_rates={Defect.CORRUPT: 0.3})
    photos = list(render_cohort(params))
    corrupt = [p for p in photos if Defect.CORRUPT in p.plan.defects]
    assert corrupt and len(corrupt) < len(photos)
    for photo in photos:
        if photo in corrupt:
            with pytest.raises(OSError):
                Image.open(io.BytesIO(photo.data)).load()
        else:
            Image.open(io.BytesIO(photo.data)).load()


def test_duplicates_repeat_an_earlier_photo_exactly_or_nearly() -> None:
    params = small(images=60, defect_rates={Defect.DUPLICATE: 0.2})
    photos = {p.plan.row.file_name: p for p in render_cohort(params)}
    duplicates = [p for p in photos.values() if Defect.DUPLICATE in p.plan.defects]
    assert len(duplicates) == 12
    kinds = set()
    for dup in duplicates:
        original = photos[dup.plan.duplicate_of]
        assert dup.plan.row.patient_id == original.plan.row.patient_id
        assert dup.plan.row.file_name != original.plan.row.file_name
        if dup.data == original.data:
            kinds.add("exact")
        else:
            assert np.abs(pixels(dup.data) - pixels(original.data)).mean() < 12
            kinds.add("near")
    assert kinds == {"exact", "near"}


def test_truth_sidecar_matches_the_plan() -> None:
    params = small(images=50, defect_rates={d: 0.1 for d in Defect})
    for photo in render_cohort(params):
        truth = photo.truth()
        assert truth["defects"] == ";".join(d.value for d in photo.plan.defects)
        assert truth["grade"] == grade_diagnosis(photo.plan.tumor_type).value
        assert truth["file_name"] == photo.plan.row.file_name
        assert (truth["dye"] != "") == (Defect.DYE in photo.plan.defects)


def _features(img: np.ndarray) -> np.ndarray:
    """Centre colour relative to the border's skin, and centre texture: a tiny hand-made model."""
    h, w, _ = img.shape
    centre = img[h // 3: 2 * h // 3, w // 3: 2 * w // 3].reshape(-1, 3)
    border = np.concatenate([img[:8].reshape(-1, 3), img[-8:].reshape(-1, 3)])
    ratio = centre.mean(axis=0) / (border.mean(axis=0) + 1)
    return np.concatenate([ratio, centre.std(axis=0) / (border.std(axis=0) + 1)])


def _grade_accuracy(difficulty: float) -> float:
    """Nearest tumor-type centroid, scored on grades, trained and tested on different patients."""
    params = small(images=400, difficulty=difficulty, seed=5)
    photos = list(render_cohort(params))
    x = np.array([_features(pixels(p.data)) for p in photos])
    types = sorted(params.tumor_types)
    y = np.array([types.index(p.plan.tumor_type) for p in photos])
    grade_of = np.array([grade_diagnosis(t).index for t in types])
    patients = sorted({p.plan.row.patient_id for p in photos})
    test_patients = set(patients[::3])
    test = np.array([p.plan.row.patient_id in test_patients for p in photos])
    mean, std = x[~test].mean(axis=0), x[~test].std(axis=0) + 1e-6
    z = (x - mean) / std
    centroids = np.array([z[~test & (y == k)].mean(axis=0) for k in range(len(types))])
    nearest = np.argmin(((z[test, None, :] - centroids[None]) ** 2).sum(axis=2), axis=1)
    return float((grade_of[nearest] == grade_of[y[test]]).mean())


def test_grade_is_learnable_and_difficulty_makes_it_harder() -> None:
    easy, hard = _grade_accuracy(0.0), _grade_accuracy(1.0)
    assert easy > 0.6  # chance is about 0.4 (low-risk is the largest class)
    assert hard < easy - 0.1

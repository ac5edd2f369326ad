"""The modality check (dermoscopy vs clinical) and the resolution floor, on generated images;
the real clinical photos of PAD-UFES-20 must pass (OpenCV: the ml environment)."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from skinrisk.config import QualityParams, SynthParams, parse_params
from skinrisk.quality.decide import Expectations, expectations, judge
from skinrisk.quality.decode import load_working_image
from skinrisk.quality.modality import count_bubbles, score_modality, score_vignette
from skinrisk.quality.runner import score_bytes
from skinrisk.reasons import Reason
from skinrisk.synth.cohort import plan_cohort, render_photo
from skinrisk.synth.dermoscopy import render_dermoscopy
from tests.conftest import REPO

pytestmark = pytest.mark.ml
PARAMS = QualityParams()


def encoded(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=90)
    return out.getvalue()


def reasons(data: bytes, **context: object) -> set[Reason]:
    width, height = Image.open(io.BytesIO(data)).size
    return {r for r, _ in judge(score_bytes("x", data), width, height, PARAMS, **context)}


def clinical(seed: int, size: tuple[int, int] = (384, 288)) -> np.ndarray:
    """A synthetic clinical photo without defects, as the working copy grey image."""
    params = SynthParams(images=1, width=size[0], height=size[1], seed=seed)
    data = render_photo(replace(plan_cohort(params)[0], defects=()), params).data
    return np.asarray(Image.open(io.BytesIO(data)).convert("L"))


@pytest.mark.parametrize("seed", range(6))
def test_a_dermoscopic_image_from_a_clinical_source_is_not_a_clinical_photo(seed: int) -> None:
    data = encoded(render_dermoscopy(seed, (640, 480)))
    assert Reason.NOT_CLINICAL_PHOTO in reasons(data)
    # A source declared to send dermoscopy is not held to looking clinical here.
    assert Reason.NOT_CLINICAL_PHOTO not in reasons(data, clinical=False)


@pytest.mark.parametrize("seed", range(6))
def test_clinical_photos_show_no_dermoscopy_cue(seed: int) -> None:
    scores = score_modality(clinical(seed))
    assert scores.vignette == 0.0 and scores.bubbles <= PARAMS.max_bubbles


def test_dark_that_is_not_a_lens_rim_is_no_vignette() -> None:
    gray = clinical(3)
    h, w = gray.shape
    yy, xx = np.mgrid[0:h, 0:w]
    letterbox, pillarbox, half = gray.copy(), gray.copy(), gray.copy()
    letterbox[:h // 7], letterbox[-h // 7:] = 5, 5
    pillarbox[:, :w // 7], pillarbox[:, -w // 7:] = 5, 5
    half[:, :w // 2] = 5
    # A camera's light falling off gradually into black corners: round, but no sharp rim.
    falloff = (gray * np.clip(1.5 - np.hypot(xx - w / 2, yy - h / 2) / (w / 2), 0, 1))
    for dark in (letterbox, pillarbox, half, falloff.astype(np.uint8), np.full_like(gray, 8)):
        assert score_vignette(dark) == 0.0
    lens = gray.copy()
    lens[np.hypot(xx - w / 2, yy - h / 2) > 0.7 * np.hypot(w / 2, h / 2)] = 6
    assert score_vignette(lens) == 1.0


def test_bubbles_are_counted_on_a_full_frame_dermoscopic_image() -> None:
    counts = [score_modality(np.asarray(Image.open(io.BytesIO(encoded(
        render_dermoscopy(seed, vignette=False)))).convert("L"))).bubbles for seed in range(8)]
    assert max(counts) > PARAMS.max_bubbles
    assert count_bubbles(np.full((288, 384), 128, np.uint8)) == 0


def test_the_resolution_floor_is_the_training_input_size() -> None:
    data = yaml.safe_load((REPO / "params.yaml").read_text())
    paper = expectations(parse_params(data))
    assert paper.min_side_px == 299  # pack.image_size above quality.min_side_px (100)
    small = expectations(parse_params({**data, "pack": {"image_size": 80}}))
    assert small.min_side_px == 100  # quality's own floor when the input is smaller
    scores = score_bytes("x", encoded(render_dermoscopy(0, (224, 224), vignette=False)))
    found = dict(judge(scores, 224, 224, PARAMS, min_side_px=paper.min_side_px))
    assert found[Reason.LOW_RESOLUTION] == "short side 224 px < 299"
    assert Reason.LOW_RESOLUTION not in dict(judge(scores, 224, 224, PARAMS))


def test_declared_modalities_decide_which_sources_must_look_clinical() -> None:
    params = parse_params({"split": {"source_modality": {"derm-clinic": "dermoscopy",
                                                         "ward": "clinical"}}})
    expect = expectations(params)
    assert expect.non_clinical_sources == frozenset({"derm-clinic"})
    assert not expect.clinical("derm-clinic") and expect.clinical("ward")
    assert expect.clinical("never-declared")
    assert Expectations(100).clinical("anything")


def test_pad_ufes_20_clinical_photos_are_accepted_by_the_modality_check(pad_dir: Path) -> None:
    """Real photos are the judge: at most 1% of the 516 clinical photos may be flagged."""
    files = sorted((pad_dir / "images").iterdir())
    flagged = []
    for path in files:
        scores = score_modality(np.asarray(Image.fromarray(
            load_working_image(path.read_bytes())).convert("L")))
        if scores.vignette > PARAMS.max_vignette or scores.bubbles > PARAMS.max_bubbles:
            flagged.append(path.name)
    assert len(flagged) <= 0.01 * len(files), flagged

"""Each quality check on crafted positives and negatives (OpenCV: the ml environment)."""

from __future__ import annotations

import io
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from skinrisk.config import QualityParams, SynthParams
from skinrisk.quality.decide import judge
from skinrisk.quality.neardup import group_near_duplicates, link
from skinrisk.quality.runner import score_bytes
from skinrisk.quality.sheets import examples_by_reason, write_sheets
from skinrisk.reasons import Reason
from skinrisk.synth.cohort import plan_cohort, render_photo
from skinrisk.synth.spec import Defect
from tests.helpers.images import jpeg, photo

pytestmark = pytest.mark.ml
PARAMS = QualityParams()
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def reasons(data: bytes) -> set[Reason]:
    size = Image.open(io.BytesIO(data)).size
    return {r for r, _ in judge(score_bytes("x", data), size[0], size[1], PARAMS)}


def photo_pair(defect: Defect, seed: int, fitzpatrick: int) -> tuple[bytes, bytes]:
    """One synthetic photo without and with the defect (everything else identical)."""
    weights = tuple(1.0 if k == fitzpatrick else 0.0 for k in range(1, 7))
    params = SynthParams(images=1, width=320, height=240, seed=seed,
                         fitzpatrick_weights=weights)
    photo = plan_cohort(params)[0]
    clean = render_photo(replace(photo, defects=()), params)
    dirty = render_photo(replace(photo, defects=(defect,)), params)
    return clean.data, dirty.data


CASES = [(Defect.BLUR, Reason.BLUR), (Defect.HAIR, Reason.HAIR),
         (Defect.TINY_LESION, Reason.BACKGROUND_DOMINANT), (Defect.EXUDATE, Reason.EXUDATE)]


@pytest.mark.parametrize(("defect", "reason"), CASES, ids=[d.value for d, _ in CASES])
@pytest.mark.parametrize("fitzpatrick", [1, 3, 5])
def test_a_check_flags_its_defect_and_passes_the_same_photo_without_it(
        defect: Defect, reason: Reason, fitzpatrick: int) -> None:
    clean, dirty = photo_pair(defect, seed=40 + fitzpatrick, fitzpatrick=fitzpatrick)
    assert reasons(clean) == set()
    assert reason in reasons(dirty)


def test_ink_dye_is_flagged() -> None:
    """Gentian violet and marker ink; iodine is the hard case (docs/quality-calibration.md)."""
    checked = 0
    for seed in range(40):
        params = SynthParams(images=1, width=320, height=240, seed=seed)
        photo = replace(plan_cohort(params)[0], defects=(Defect.DYE,))
        dirty = render_photo(photo, params)
        if dirty.dye == "iodine":
            continue
        clean = render_photo(replace(photo, defects=()), params)
        assert reasons(clean.data) == set(), seed
        assert Reason.DYE in reasons(dirty.data), (seed, dirty.dye)
        checked += 1
    assert checked >= 15


def test_a_recognisable_face_is_a_privacy_block() -> None:
    assert Reason.FACE_VISIBLE in reasons((FIXTURES / "astronaut.jpg").read_bytes())


@pytest.mark.parametrize(("colour", "reason"), [((4, 4, 4), Reason.UNDEREXPOSED),
                                                ((252, 252, 252), Reason.OVEREXPOSED)])
def test_exposure(colour: tuple[int, int, int], reason: Reason) -> None:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(out, "JPEG")
    assert reason in reasons(out.getvalue())


def test_low_resolution_and_undecodable() -> None:
    _, small = photo_pair(Defect.BLUR, seed=1, fitzpatrick=3)
    img = Image.open(io.BytesIO(small)).resize((80, 60))
    out = io.BytesIO()
    img.save(out, "JPEG")
    assert Reason.LOW_RESOLUTION in reasons(out.getvalue())
    broken = b"\xff\xd8\xff\xe0" + bytes(600)
    assert [r for r, _ in judge(score_bytes("x", broken), 320, 240, PARAMS)] == [
        Reason.UNREADABLE]


def test_near_duplicate_index_agrees_with_all_pairs() -> None:
    rng = random.Random(7)
    base = [rng.getrandbits(63) for _ in range(60)]
    hashes = [(f"i{k}", h) for k, h in enumerate(base)]
    for k in range(40):  # near copies: flip up to 8 bits
        h = base[k % 60]
        for bit in rng.sample(range(63), rng.randint(0, 8)):
            h ^= 1 << bit
        hashes.append((f"c{k}", h))
    for distance in (0, 3, 6):
        groups = group_near_duplicates(hashes, distance)
        for a, ha in hashes:
            for b, hb in hashes:
                if (ha ^ hb).bit_count() <= distance:
                    assert groups[a].group == groups[b].group, (a, b, distance)


def _components(hashes: list[int], distance: int) -> list[int]:
    """All-pairs reference: each hash's group head is the earliest hash of its component."""
    head = list(range(len(hashes)))
    changed = True
    while changed:
        changed = False
        for i, a in enumerate(hashes):
            for j, b in enumerate(hashes):
                if (a ^ b).bit_count() <= distance and head[j] < head[i]:
                    head[i], changed = head[j], True
    return head


@pytest.mark.parametrize("seed", range(5))
def test_linking_new_photos_into_earlier_groups_equals_grouping_from_scratch(seed: int) -> None:
    rng = random.Random(seed)
    distance = 4
    hashes = []
    for _ in range(120):  # chains of near copies, so later photos bridge earlier groups
        h = rng.choice(hashes) if hashes and rng.random() < 0.7 else rng.getrandbits(63)
        for bit in rng.sample(range(63), rng.randint(0, 5)):
            h ^= 1 << bit
        hashes.append(h)
    values = np.array(hashes, dtype=np.int64)
    expected = _components(hashes, distance)
    heads = np.empty(0, np.int64)
    for end in [*sorted(rng.sample(range(1, 120), 6)), 120]:  # the dataset grows batch by batch
        heads = link(values[:end], heads, distance)
        assert heads.tolist() == _components(hashes[:end], distance)
    assert heads.tolist() == expected == link(values, np.empty(0, np.int64), distance).tolist()


def test_a_new_photo_between_two_earlier_groups_merges_them_under_the_earliest() -> None:
    a, b = 0, 0b1111  # 4 bits apart: separate groups at distance 2
    heads = link(np.array([a, b], np.int64), np.empty(0, np.int64), 2)
    assert heads.tolist() == [0, 1]
    bridge = 0b11  # 2 bits from each
    assert link(np.array([a, b, bridge], np.int64), heads, 2).tolist() == [0, 0, 0]


def test_near_duplicate_groups_are_headed_by_the_earliest_image() -> None:
    groups = group_near_duplicates([("a", 0b1111), ("b", 0), ("c", 0b1), ("d", 0b111 << 60)], 2)
    assert groups["b"].group == groups["c"].group == "b"
    assert groups["a"].group == "a" and groups["a"].is_first
    assert not groups["c"].is_first and groups["d"].is_first


def test_scores_do_not_depend_on_the_working_copy_size_much() -> None:
    _, dirty = photo_pair(Defect.HAIR, seed=5, fitzpatrick=3)
    big = Image.open(io.BytesIO(dirty)).resize((1280, 960), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    big.save(out, "JPEG", quality=95)
    assert Reason.HAIR in reasons(out.getvalue())
    assert abs(score_bytes("a", dirty).skin_fraction
               - score_bytes("b", out.getvalue()).skin_fraction) < 0.05
    assert np.isfinite(score_bytes("c", out.getvalue()).sharpness)


def test_contact_sheets_show_each_reason_with_its_own_detail_and_redraw_only_on_change(
        tmp_path: Path) -> None:
    import pyarrow as pa

    table = pa.table({"image_id": ["a", "b", "c"], "reasons": ["blur;hair", "hair", "dye"],
                      "detail": ["sharpness 1 < 4.5; hair 0.2 > 0.07", "hair 0.3 > 0.07",
                                 "dye 0.1 > 0.0005"]})
    examples = examples_by_reason(table, {"blur": 1, "dye": 1, "hair": 2}, limit=1)
    assert examples == {"blur": [("a", "sharpness 1 < 4.5")], "dye": [("c", "dye 0.1 > 0.0005")],
                        "hair": [("a", "hair 0.2 > 0.07")]}
    reads: list[str] = []

    def read(image_id: str) -> bytes:
        reads.append(image_id)
        return jpeg(photo(seed=len(reads)))

    folder = tmp_path / "sheets"
    write_sheets(folder, tmp_path, examples, read)
    assert sorted(p.name for p in folder.iterdir()) == ["blur.png", "dye.png", "hair.png"]
    assert sorted(reads) == ["a", "a", "c"]
    reads.clear()
    write_sheets(folder, tmp_path, examples, read)  # same examples: nothing redrawn
    assert reads == []
    write_sheets(folder, tmp_path, {**examples, "dye": [("b", "dye 0.2 > 0.0005")]}, read)
    assert reads == ["b"]

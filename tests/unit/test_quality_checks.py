"""Each quality check on crafted positives and negatives (OpenCV: the ml environment)."""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from skinrisk.config import QualityParams, SynthParams
from skinrisk.defects import Defect
from skinrisk.quality.decide import judge
from skinrisk.quality.runner import score_bytes
from skinrisk.quality.sheets import examples_by_reason, write_sheets
from skinrisk.reasons import Reason
from skinrisk.synth.cohort import plan_cohort, render_photo
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
    """Synthetic gentian violet and marker ink raise the score; iodine is not ink. The check
    is calibrated on real photos (next test): synthetic lesions drawn with a saturated blue
    veil trip it now and then, so the clean copies are held to a rate, not to zero."""
    checked = clean_flagged = 0
    for seed in range(40):
        params = SynthParams(images=1, width=320, height=240, seed=seed)
        photo = replace(plan_cohort(params)[0], defects=(Defect.DYE,))
        dirty = render_photo(photo, params)
        if dirty.dye == "iodine":
            continue
        clean = render_photo(replace(photo, defects=()), params)
        clean_flagged += Reason.DYE in reasons(clean.data)
        assert Reason.DYE in reasons(dirty.data), (seed, dirty.dye)
        checked += 1
    assert checked >= 15 and clean_flagged <= checked // 5


# Real PAD-UFES-20 photos labelled by eye (docs/quality-labels.csv), by the first 16 hex of
# their sha256: their file names carry PAD's patient ids, which the repository never holds.
REAL_INK = {"ae9b5ae78cf5819c": True, "8c03f1de3afe1dbc": True,  # faded rings, missed before
            "831b348fd214f3a9": True, "5982c829d0f9046d": True,  # the redesign
            "9ec3541fbc0b032b": False, "75de5ffa0a6243b2": False,  # violaceous lesion, blue nevus
            "e0c6952c1d03d3ad": False}  # a nevus the saturated-violet rule flagged


@pytest.fixture(scope="module")
def pad_by_hash(pad_dir: Path) -> dict[str, bytes]:
    photos = [p.read_bytes() for p in (pad_dir / "images").glob("*.png")]
    return {hashlib.sha256(data).hexdigest()[:16]: data for data in photos}


@pytest.mark.parametrize(("digest", "inked"), sorted(REAL_INK.items()))
def test_marker_ink_on_real_photos(pad_by_hash: dict[str, bytes], digest: str, inked: bool
                                   ) -> None:
    assert (Reason.DYE in reasons(pad_by_hash[digest])) is inked


# The redesigned hair, exudate, skin and face checks (docs/quality-calibration.md), on real
# photos the first checks got wrong. Each: (reason, expected to fire).
REAL_CASES = {
    # Grey and white hair over the lesion (lighter than the skin: a black-hat never saw it).
    "7b75935ab75fe3f7": (Reason.HAIR, True), "968a33aeb0a75467": (Reason.HAIR, True),
    "b8e1e6181ef518b8": (Reason.HAIR, True), "c0d5871800bce5f0": (Reason.HAIR, True),
    "11cef6dbcefa5c23": (Reason.HAIR, True),  # one thin dark hair across a BCC
    # Fresh blood with highlights on it.
    "b0bd53b7b3a0f6d8": (Reason.EXUDATE, True), "54059d5d1af3bc60": (Reason.EXUDATE, True),
    # Dry: a BCC's pearly sheen, flash glare on oily skin, white scale, a matte crust.
    "32b973ae2fc45ae1": (Reason.EXUDATE, False), "702e8abed26325e6": (Reason.EXUDATE, False),
    "30ab52ae4a47d1a7": (Reason.EXUDATE, False), "0930c8ece79cea83": (Reason.EXUDATE, False),
    # Skin filling the frame under a purple cast, near-white skin, a yellow cast.
    "62340919bbcf8d13": (Reason.BACKGROUND_DOMINANT, False),
    "a51ebc84ffba8bcd": (Reason.BACKGROUND_DOMINANT, False),
    "f431250800973b00": (Reason.BACKGROUND_DOMINANT, False),
    # A facial lesion with a partly cut-off eye in a corner (no face cascade finds either), and
    # the two photos nearest to the eye rule's gates without being a face.
    "ea91b15abf525be9": (Reason.FACE_VISIBLE, True),
    "6727cca5ba82c280": (Reason.FACE_VISIBLE, True),
    "758e2497e3cf3691": (Reason.FACE_VISIBLE, False),
    "713c1f70bb114c3a": (Reason.FACE_VISIBLE, False),
}


@pytest.mark.parametrize(("digest", "case"), sorted(REAL_CASES.items()))
def test_hair_exudate_skin_and_faces_on_real_photos(pad_by_hash: dict[str, bytes], digest: str,
                                              case: tuple[Reason, bool]) -> None:
    reason, fires = case
    assert (reason in reasons(pad_by_hash[digest])) is fires


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


def test_scores_do_not_depend_on_the_working_copy_size_much() -> None:
    _, dirty = photo_pair(Defect.HAIR, seed=5, fitzpatrick=3)
    big = Image.open(io.BytesIO(dirty)).resize((1280, 960), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    big.save(out, "JPEG", quality=95)
    assert Reason.HAIR in reasons(out.getvalue())
    # 320 px against a 384 px working copy: the hairs cover another share of the frame.
    assert abs(score_bytes("a", dirty).skin_fraction
               - score_bytes("b", out.getvalue()).skin_fraction) < 0.08
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
    # A kept cache (SKINRISK_CACHE) whose record is newer than the sheet in this workspace (a
    # checkout of an older branch head): the record names the bytes it drew, so it is redrawn.
    reads.clear()
    (folder / "hair.png").write_bytes(b"an older sheet")
    write_sheets(folder, tmp_path, {**examples, "dye": [("b", "dye 0.2 > 0.0005")]}, read)
    assert reads == ["a"] and (folder / "hair.png").read_bytes() != b"an older sheet"


def test_the_cached_scores_version_covers_every_module_the_scores_come_from() -> None:
    """A cached score is reused while checks_version() is unchanged: every skinrisk.quality
    module that score_image reaches must be part of it, or an edit to one leaves stale scores."""
    import ast

    from skinrisk.quality import runner

    folder = Path(runner.__file__).parent
    reached, todo = set(), ["checks.py"]
    while todo:
        name = todo.pop()
        reached.add(name)
        for node in ast.walk(ast.parse((folder / name).read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "skinrisk.quality."):
                module = node.module.rsplit(".", 1)[1] + ".py"
                if module not in reached:
                    todo.append(module)
    assert reached <= set(runner._SCORING_CODE)

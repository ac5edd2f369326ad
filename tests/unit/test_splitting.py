"""The split rule: deterministic, frozen per patient, honest about leakage."""

import pytest

from skinrisk.config import ParamsError, parse_params
from skinrisk.splitting.assign import (
    CROSS_ETHNIC,
    HELDOUT,
    OOD,
    OTHER_MODALITY,
    TRAIN,
    LeakageError,
    SplitRule,
    assign_all,
    check_leakage,
    patient_draw,
    summarize,
)

RULE = SplitRule(0.25, "salt", ("atlas",))


def row(image: str, patient: str, lesion: str = "L", group: str | None = None,
        source: str = "hosp", grade: str = "low-risk", flags: str = "") -> dict:
    return {"image_id": image, "batch_id": "b", "patient": patient, "lesion": f"{patient}{lesion}",
            "dup_group": group or image, "grade": grade, "source": source, "fitzpatrick": 3,
            "flags": flags}


def test_a_patients_side_depends_only_on_salt_and_id() -> None:
    assert patient_draw("P-1", "salt") == patient_draw("P-1", "salt")
    assert patient_draw("P-1", "salt") != patient_draw("P-1", "other")
    first = {r["image_id"]: r["split"] for r in assign_all([row("a", "P-1"), row("b", "P-2")],
                                                           RULE)}
    grown = assign_all([row(f"x{i}", f"P-{i}") for i in range(3, 300)]
                       + [row("a", "P-1"), row("b", "P-2")], RULE)
    assert {r["image_id"]: r["split"] for r in grown if r["image_id"] in first} == first


def test_the_held_out_share_matches_the_fraction_and_all_images_follow_their_patient() -> None:
    rows = [row(f"{p}-{k}", f"P-{p}", lesion=str(k % 2), grade=("low-risk", "dangerous")[p % 2])
            for p in range(4000) for k in range(3)]
    out = assign_all(rows, RULE)
    sides = {}
    for r in out:
        assert sides.setdefault(r["patient"], r["split"]) == r["split"]
    share = sum(s == HELDOUT for s in sides.values()) / len(sides)
    assert abs(share - 0.25) < 0.02
    summary = summarize(out, RULE)
    assert all(abs(v - 0.25) < 0.03 for v in summary["heldout_share_by_grade"].values())


def test_cross_ethnic_sources_and_ood_types_are_never_trained_on() -> None:
    out = assign_all([row(f"a{i}", f"A-{i}", source="atlas") for i in range(50)]
                     + [row(f"o{i}", f"O-{i}", flags="out-of-distribution") for i in range(50)],
                     RULE)
    assert {r["split"] for r in out if r["source"] == "atlas"} == {CROSS_ETHNIC}
    assert {r["split"] for r in out if r["image_id"].startswith("o")} == {OOD}


def test_a_near_duplicate_group_across_the_line_stops_with_the_ids() -> None:
    patients = [f"P-{i}" for i in range(40)]
    train = next(p for p in patients if patient_draw(p, "salt") >= 0.25)
    test = next(p for p in patients if patient_draw(p, "salt") < 0.25)
    with pytest.raises(LeakageError) as raised:
        assign_all([row("a", train, group="G1"), row("b", test, group="G1")], RULE)
    assert "dup_group: G1" in str(raised.value)


def test_leakage_check_names_patients_and_lesions() -> None:
    rows = [{"patient": "P-9", "lesion": "L-9", "dup_group": "x", "split": TRAIN},
            {"patient": "P-9", "lesion": "L-9", "dup_group": "y", "split": HELDOUT}]
    with pytest.raises(LeakageError, match=r"patient: P-9.*lesion: L-9"):
        check_leakage(rows)
    check_leakage([{**r, "split": TRAIN} for r in rows])


def test_an_ood_lesion_of_a_training_patient_is_not_leakage_but_its_duplicate_is() -> None:
    from skinrisk.splitting.assign import TRAIN, LeakageError, check_leakage

    rows = [{"image_id": "a", "patient": "p1", "lesion": "l1", "dup_group": "a", "split": TRAIN},
            {"image_id": "b", "patient": "p1", "lesion": "l2", "dup_group": "b", "split": OOD}]
    check_leakage(rows)
    rows[1]["dup_group"] = "a"  # the OOD photo is a near-duplicate of a training photo
    with pytest.raises(LeakageError, match="dup_group: a"):
        check_leakage(rows)


def test_images_of_a_modality_the_model_does_not_train_on_are_in_no_set_and_counted() -> None:
    rule = SplitRule(0.25, "salt", ("atlas",), {"dermlab": "dermoscopy", "atlas": "dermoscopy"})
    rows = ([row(f"c{i}", f"P-{i}") for i in range(40)]
            + [row(f"d{i}", f"P-{i}", lesion="D", source="dermlab") for i in range(40)]
            + [row("a", "A-1", source="atlas")])
    # The same patients photographed both ways: the dermoscopic side is on neither side.
    out = assign_all(rows, rule)
    assert {r["split"] for r in out if r["source"] != "hosp"} == {OTHER_MODALITY}
    assert {r["split"] for r in out if r["source"] == "hosp"} <= {TRAIN, HELDOUT}
    summary = summarize(out, rule)
    assert summary["left_out_by_modality"] == {"dermoscopy": 41}
    assert summary["images"][OTHER_MODALITY] == 41 and summary["images"][CROSS_ETHNIC] == 0
    both = SplitRule(0.25, "salt", ("atlas",), {"dermlab": "dermoscopy", "atlas": "dermoscopy"},
                     ("clinical", "dermoscopy"))
    assert OTHER_MODALITY not in {r["split"] for r in assign_all(rows, both)}


@pytest.mark.parametrize(("split", "fragment"), [
    ({"source_modality": {"dermlab": "dermatoscope"}}, "split.source_modality.dermlab"),
    ({"train_modalities": []}, "list at least one modality"),
])
def test_modality_params_name_the_key(split: dict, fragment: str) -> None:
    with pytest.raises(ParamsError, match=fragment.replace(".", r"\.")):
        parse_params({"split": split})

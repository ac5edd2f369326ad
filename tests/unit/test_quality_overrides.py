"""A reviewer's overrides and conflicting labels: parsed strictly, applied over the filter."""

from __future__ import annotations

import numpy as np
import pytest

from skinrisk.quality.curate import curate, label_conflicts
from skinrisk.quality.overrides import OverridesError, apply_overrides, parse_overrides
from skinrisk.reasons import Reason

A, B, C, D = ("a" * 64, "b" * 64, "c" * 64, "d" * 64)
HEADER = "image_id,decision,reason,reviewer,date\n"


def csv_overrides(*rows: str):
    return parse_overrides(HEADER + "".join(r + "\n" for r in rows), "csv", "overrides.csv")


def test_csv_and_yaml_give_the_same_decisions() -> None:
    from_csv = csv_overrides(f"{A},accept,,Dr. Silva,2025-03-01", f"{B},reject,blur,ana,2025-03-02")
    from_yaml = parse_overrides(
        f"- {{image_id: {A}, decision: accept, reason: null, reviewer: Dr. Silva, "
        f"date: 2025-03-01}}\n- {{image_id: {B}, decision: reject, reason: blur, "
        f"reviewer: ana, date: '2025-03-02'}}\n", "yaml", "overrides.yaml")
    assert [(o.image_id, o.decision, o.reason, o.date) for o in from_csv] == [
        (A, "accept", None, "2025-03-01"), (B, "reject", Reason.BLUR, "2025-03-02")]
    assert [o.digest for o in from_csv] == [o.digest for o in from_yaml]
    assert from_csv[1].row == "overrides.csv line 3"
    assert parse_overrides("", "yaml", "o.yaml") == [] == csv_overrides()


@pytest.mark.parametrize(("row", "says"), [
    (f"{A.upper()},accept,,ana,2025-03-01", "line 2: image_id must be"),
    (f"{A},keep,,ana,2025-03-01", "line 2: decision must be accept or reject"),
    (f"{A},reject,,ana,2025-03-01", "line 2: rejecting needs a reason code"),
    (f"{A},reject,blurry,ana,2025-03-01", "line 2: rejecting needs a reason code"),
    (f"{A},accept,blur,ana,2025-03-01", "line 2: leave reason empty when accepting"),
    (f"{A},accept,,=cmd(),2025-03-01", "line 2: reviewer must be"),
    (f"{A},accept,,ana,01/03/2025", "line 2: date must be a calendar date"),
    (f"{A},accept,,ana,20250301", "line 2: date must be a calendar date"),
    (f"{A},accept,,ana,2025-02-30", "line 2: date must be a calendar date"),
    (f"{A},accept,,ana,2025-03-01,extra", "line 2: more values than columns"),
])
def test_a_bad_row_is_refused_in_one_line_naming_it(row: str, says: str) -> None:
    with pytest.raises(OverridesError, match=says) as caught:
        csv_overrides(row)
    assert "\n" not in str(caught.value) and str(caught.value).startswith("overrides.csv line")


def test_two_decisions_on_one_image_and_wrong_columns_are_refused() -> None:
    with pytest.raises(OverridesError, match=r"line 3: image already decided at "
                                             r"overrides\.csv line 2"):
        csv_overrides(f"{A},accept,,ana,2025-03-01", f"{A},reject,hair,ana,2025-03-02")
    with pytest.raises(OverridesError, match=r"line 1: columns must be .*missing: date; "
                                             r"unknown: when"):
        parse_overrides("image_id,decision,reason,reviewer,when\n", "csv", "overrides.csv")
    with pytest.raises(OverridesError, match="entry 1: image_id must be text; quote it"):
        parse_overrides("- {image_id: 1234, decision: accept, reason: '', reviewer: ana, "
                        "date: 2025-03-01}\n", "yaml", "o.yaml")
    with pytest.raises(OverridesError, match=r"o\.yaml: the top level must be a list"):
        parse_overrides("image_id: x\n", "yaml", "o.yaml")


def test_apply_overrides_stands_over_the_filter_and_refuses_unknown_images() -> None:
    verdicts = {A: [(Reason.BLUR, "sharpness 1 < 4.5")], B: [], C: [(Reason.HAIR, "h")]}
    decided = apply_overrides(verdicts, csv_overrides(f"{A},accept,,ana,2025-03-01",
                                                      f"{B},reject,dye,ana,2025-03-02"))
    assert decided == {A: [], B: [(Reason.DYE, "rejected on review of 2025-03-02")],
                       C: [(Reason.HAIR, "h")]}
    assert verdicts[A] == [(Reason.BLUR, "sharpness 1 < 4.5")]  # the input is left alone
    with pytest.raises(OverridesError, match="line 2: no such image in the raw zone; an "
                                             "override cannot bring back"):
        apply_overrides(verdicts, csv_overrides(f"{D},accept,,ana,2025-03-01"))


def arrays(*columns):
    return [np.array(c, dtype=object) for c in columns]


def test_a_group_labelled_two_ways_leaves_whole_and_a_typeless_code_agrees() -> None:
    ids, groups = arrays([A, B, C, D], [A, A, C, C])
    grades, types = arrays(["low-risk", "high-risk", "low-risk", "low-risk"],
                           ["junctional_nevus", "basal_cell_carcinoma", None, "junctional_nevus"])
    assert label_conflicts(groups, grades, types, np.zeros(4, bool)).tolist() == [
        True, True, False, False]
    decided = curate(ids, *arrays(["", "blur", "", ""], ["", "s 1 < 4.5", "", ""]), groups,
                     grades, types)
    assert decided.kept.tolist() == [False, False, True, False]
    assert decided.repeat.tolist() == [False, False, False, True]
    assert decided.reasons.tolist() == ["conflicting_label", "blur;conflicting_label", "", ""]
    assert decided.details[1] == ("s 1 < 4.5; near-duplicates labelled basal_cell_carcinoma vs "
                                  "junctional_nevus")


def test_overrides_resolve_a_conflict_and_stand_over_checks_and_repeats() -> None:
    ids, groups = arrays([A, B, C, D], [A, A, A, D])
    grades, types = arrays(["low-risk", "high-risk", "low-risk", "low-risk"],
                           ["junctional_nevus", "basal_cell_carcinoma", "junctional_nevus",
                            "lipoma"])
    reasons, details = arrays(["", "", "", "hair"], ["", "", "", "hair 0.2 > 0.068"])
    overrides = csv_overrides(f"{B},reject,conflicting_label,ana,2025-03-01",
                              f"{C},accept,,ana,2025-03-01", f"{D},accept,,ana,2025-03-01")
    decided = curate(ids, reasons, details, groups, grades, types, overrides)
    # B's wrong label rejected: A and C agree; A is the group's first; C is accepted though
    # a repeat of A.
    assert decided.kept.tolist() == [True, False, True, True]
    assert decided.reasons.tolist() == ["", "conflicting_label", "", ""]
    # Each applied override with what the filter alone said of its image.
    assert [(o.image_id, said) for o, said in decided.applied] == [
        (B, "conflicting_label"), (C, "conflicting_label"), (D, "hair")]
    assert reasons.tolist() == ["", "", "", "hair"]  # the caller's arrays are left alone


def test_without_overrides_or_conflicts_the_first_passing_copy_is_kept() -> None:
    ids, groups = arrays([A, B, C], [A, A, A])
    grades, types = arrays(["low-risk"] * 3, ["lipoma"] * 3)
    decided = curate(ids, *arrays(["blur", "", ""], ["s", "", ""]), groups, grades, types)
    assert decided.kept.tolist() == [False, True, False]
    assert decided.repeat.tolist() == [False, False, True]
    assert decided.reasons.tolist() == ["blur", "", ""] and decided.applied == []
    overruled = curate(ids, *arrays(["blur", "", ""], ["s", "", ""]), groups, grades, types,
                       csv_overrides(f"{C},reject,hair,ana,2025-03-01"))
    assert [said for _, said in overruled.applied] == ["near_duplicate"]


def test_a_group_keeps_its_cleanest_passing_copy() -> None:
    # An inked (flagged) first copy and a clean later one: the clean one trains the model.
    ids, groups = arrays([A, B, C], [A, A, A])
    grades, types = arrays(["low-risk"] * 3, ["lipoma"] * 3)
    decided = curate(ids, *arrays(["", "", ""], ["", "", ""]), groups, grades, types,
                     flags=np.array([1, 0, 0]))
    assert decided.kept.tolist() == [False, True, False]
    assert decided.repeat.tolist() == [True, False, True]

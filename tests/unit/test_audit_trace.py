"""The pure parts of an audit trace: set composition, cross-checks, related ledger entries and
the reproduction's comparison."""

from __future__ import annotations

from pathlib import Path

import pytest

from skinrisk.audit.reproduce import compare, recorded_figures
from skinrisk.audit.trace import composition, equal_check, membership_check, related_entries
from skinrisk.digest import canonical_sha256

ROWS = {
    "a": {"patient": "P-1", "grade": "low-risk", "source": "h1", "fitzpatrick": 2},
    "b": {"patient": "P-1", "grade": "dangerous", "source": "h1", "fitzpatrick": None},
    "c": {"patient": "P-2", "grade": "dangerous", "source": "h2", "fitzpatrick": 6},
}


def test_composition_counts_images_patients_and_each_slice() -> None:
    counted = composition(["a", "b", "c"], ROWS)
    assert counted == {"images": 3, "patients": 2,
                       "by_grade": {"dangerous": 2, "low-risk": 1},
                       "by_source": {"h1": 2, "h2": 1},
                       "by_fitzpatrick": {"II": 1, "VI": 1, "unknown": 1}}


def test_membership_names_an_image_outside_the_allowed_splits() -> None:
    split_of = {"a": "train", "b": "train", "c": "heldout"}
    assert membership_check("fit", ["a", "b"], split_of, {"train"}).ok
    leaked = membership_check("fit", ["a", "c"], split_of, {"train"})
    assert not leaked.ok and "1 of 2" in leaked.detail and "c" in leaked.detail
    assert not membership_check("fit", [], split_of, {"train"}).ok


def test_equal_check_names_the_keys_that_differ_and_refuses_a_missing_record() -> None:
    same = equal_check("hashes", {"x": "1", "y": "2"}, {"x": "1", "y": "2"})
    assert same.ok and same.detail == "2 entries agree"
    differ = equal_check("hashes", {"x": "1", "y": "2"}, {"x": "1", "y": "3"})
    assert not differ.ok and "y: recorded 2, found 3" in differ.detail
    assert not equal_check("digest", None, "abc").ok


def test_canonical_digest_ignores_key_order_but_not_content() -> None:
    assert canonical_sha256({"fit": ["a"], "validation": []}) == canonical_sha256(
        {"validation": [], "fit": ["a"]})
    assert canonical_sha256({"fit": ["a"]}) != canonical_sha256({"fit": ["a", "b"]})


def _entry(seq: int, event: str, **data: object) -> dict:
    return {"seq": seq, "at": "t", "event": event, "by": "user:x", "hash": f"h{seq}",
            "data": data}


def test_related_entries_pick_what_concerns_one_model_only() -> None:
    entries = [
        _entry(1, "batch_ingested", batch_id="b1"),
        _entry(2, "batch_ingested", batch_id="b9"),
        _entry(3, "dataset_version", tag="data-v1"),
        _entry(4, "training_run", run_id="r1"),
        _entry(5, "training_run", run_id="r2"),
        _entry(6, "evaluation", run_id="r1", model="m/1"),
        _entry(7, "gate_decision", challenger={"version": "2"}, champion={"version": "1"}),
        _entry(8, "gate_decision", challenger={"version": "3"}, champion={"version": "2"}),
        _entry(9, "rollback", rolled_back="2", restored="1"),
        _entry(10, "rollback", rolled_back="3", restored="2"),
        _entry(11, "alias_moved", decision_id="d1", **{"from": None, "to": "1"}),
        _entry(12, "alias_moved", decision_id="d3", **{"from": "2", "to": "3"}),
        _entry(13, "validation", batch_id="b1", status="passed"),
    ]
    chosen = related_entries(entries, "r1", "1", "data-v1", {"b1"})
    assert [e["seq"] for e in chosen] == [1, 3, 4, 6, 7, 9, 11, 13]


def _report(macro: float, dangerous: float | None) -> dict:
    grades = {"low-risk": {"auc": 0.9}, "high-risk": {"auc": 0.8},
              "dangerous": {"auc": dangerous}}
    return {"sets": {"heldout": {"n": 10, "macro_auc": macro, "accuracy": 0.7,
                                 "grades": grades},
                     "empty": {"n": 0}},
            "ood": {"n": 0, "accuracy": None}}


def test_a_reproduction_is_judged_figure_by_figure_against_the_tolerance() -> None:
    recorded = recorded_figures(_report(0.85, 0.7))
    assert set(recorded) == {"heldout_macro_auc", "heldout_accuracy", "heldout_auc_low-risk",
                             "heldout_auc_high-risk", "heldout_auc_dangerous"}
    rows = {r["metric"]: r for r in compare(recorded, recorded_figures(_report(0.86, 0.75)),
                                            tolerance=0.02)}
    assert rows["heldout_macro_auc"]["within"] and rows["heldout_macro_auc"]["difference"] == 0.01
    assert not rows["heldout_auc_dangerous"]["within"]
    # A figure that became uncomputable is not "within" anything.
    gone = compare(recorded, recorded_figures(_report(0.85, None)), tolerance=1.0)
    assert [r["metric"] for r in gone if not r["within"]] == ["heldout_auc_dangerous"]


def test_an_undefined_confidence_interval_renders_as_a_dash_not_a_crash() -> None:
    from skinrisk.audit.render import _ci

    # A test set that lacks a grade has no interval for it: bounds [None, None].
    assert _ci([None, None]) == _ci([0.5, None]) == _ci(None) == "—"
    assert _ci([0.81234, 0.9]) == "[0.812, 0.900]"


def test_an_image_id_too_short_to_name_one_image_is_refused_before_any_lookup(
        tmp_path: Path) -> None:
    from skinrisk.audit.image import trace_image
    from skinrisk.errors import SkinriskError
    from skinrisk.layout import StateLayout

    with pytest.raises(SkinriskError, match="give at least 8 characters"):
        trace_image(StateLayout(tmp_path / "no-workspace"), None, "abc12", str(tmp_path))


def test_no_champion_yet_is_said_only_when_the_registry_says_so() -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import ErrorCode

    from skinrisk.audit.model import resolve
    from skinrisk.errors import SkinriskError

    class Registry:
        def __init__(self, code: str) -> None:
            self.code = code

        def get_model_version_by_alias(self, name: str, alias: str) -> None:
            raise MlflowException(f"alias {alias} of {name}: {self.code}",
                                  error_code=ErrorCode.Value(self.code))

    with pytest.raises(SkinriskError, match="there is no champion yet"):
        resolve(Registry("INVALID_PARAMETER_VALUE"), "champion")
    # A server that refuses or fails is not "no champion": its own message is kept.
    for code in ("PERMISSION_DENIED", "INTERNAL_ERROR"):
        with pytest.raises(SkinriskError, match=f"no model version 'champion'.*{code}"):
            resolve(Registry(code), "champion")

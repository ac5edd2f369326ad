"""make calibrate's arithmetic: what the stage removes under quality.actions, defects by grade
by eye, and a reviewer's overrides as evidence (bench/calibration.py)."""

from __future__ import annotations

import pytest

from bench.calibration import acting, grade_rates, prevalence, rate_gap, review_evidence
from skinrisk.reasons import Reason

pytestmark = pytest.mark.ml  # Fisher's exact test: SciPy, in the ml environment

VERDICTS = {"a": [(Reason.DYE, "d"), (Reason.BLUR, "b")], "b": [(Reason.HAIR, "h")],
            "c": [], "d": [(Reason.FACE_VISIBLE, "f")]}


def test_only_rejecting_checks_count_as_removed() -> None:
    removed = acting(VERDICTS, {"dye": "inpaint", "hair": "flag", "blur": "reject"})
    assert removed == {"a": [(Reason.BLUR, "b")], "b": [], "c": [],
                       "d": [(Reason.FACE_VISIBLE, "f")]}  # a check without an action rejects


def test_rejection_rates_by_group_and_their_gap() -> None:
    rows = grade_rates(VERDICTS, {"a": "high", "b": "high", "c": "low", "d": "low"})
    assert [(r["group"], r["n"], r["rejected"]) for r in rows] == [("high", 2, 2), ("low", 2, 1)]
    assert rate_gap(rows) == pytest.approx(50.0)


def test_prevalence_is_the_share_labelled_per_group() -> None:
    labels = {"a": {"ink": 1}, "b": {"ink": 1}, "c": {"ink": 0}, "d": {"ink": 1}}
    rows = prevalence(labels, {"a": "high", "b": "high", "c": "low", "d": "low"}, ["ink"])
    assert rows == [{"group": "high", "n": 2, "ink": 1.0}, {"group": "low", "n": 2, "ink": 0.5}]


def test_reviewer_decisions_uphold_overturn_or_name_a_miss() -> None:
    events = [
        {"decision": "reject", "reason": "dye", "filter_reasons": "blur", "filter_flags": "dye"},
        {"decision": "accept", "reason": None, "filter_reasons": "", "filter_flags": "hair"},
        {"decision": "reject", "reason": "hair", "filter_reasons": "", "filter_flags": ""},
        {"decision": "accept", "reason": None, "filter_reasons": "blur", "filter_flags": None}]
    assert review_evidence(events) == [
        {"reason": "blur", "upheld": 0, "overturned": 1, "missed": 0},  # not named: not upheld
        {"reason": "dye", "upheld": 1, "overturned": 0, "missed": 0},
        {"reason": "hair", "upheld": 0, "overturned": 1, "missed": 1}]

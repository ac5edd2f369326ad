"""Which recorded promotion a rerun may finish: only one that is still the last word."""

from __future__ import annotations

from pathlib import Path

from pipelines.promote import PENDING, _unapplied
from skinrisk.layout import StateLayout
from skinrisk.ledger import append


def _decision(layout: StateLayout, decision_id: str, challenger: str, champion: str | None,
              applied: str, data_version: str = "data-v1") -> None:
    append(layout, "gate_decision", {
        "decision_id": decision_id, "verdict": "promote", "applied": applied,
        "challenger": {"version": challenger}, "data": {"version": data_version},
        "champion": {"version": champion} if champion else None}, "user:t")


def test_a_pending_decision_is_finished_only_while_nothing_came_after_it(
        state_home: Path) -> None:
    layout = StateLayout.from_env()
    _decision(layout, "d1", "2", "1", f"{PENDING} champion 1 -> 2")
    assert _unapplied(layout, "2", "data-v1") == {"decision_id": "d1", "champion_before": "1"}
    assert _unapplied(layout, "3", "data-v1") is None  # another candidate
    assert _unapplied(layout, "2", "data-v2") is None  # judged on other data: decide again
    append(layout, "rollback", {"rolled_back": "2", "restored": "1"}, "user:ops")
    assert _unapplied(layout, "2", "data-v1") is None  # a retry must not undo a rollback
    _decision(layout, "d2", "2", "1", f"{PENDING} champion 1 -> 2")
    append(layout, "alias_moved", {"decision_id": "d2", "from": "1", "to": "2"}, "user:t")
    assert _unapplied(layout, "2", "data-v1") is None  # seen through
    _decision(layout, "d3", "3", "2", "nothing moved (rejected)")
    assert _unapplied(layout, "3", "data-v1") is None

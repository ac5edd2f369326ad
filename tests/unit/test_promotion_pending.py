"""Which recorded promotion a rerun may finish: only one that is still the last word."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from skinrisk import ledger
from skinrisk.layout import StateLayout
from skinrisk.ledger import append
from skinrisk.promotion.pending import Pending, pending_note, record_move, unapplied


def _decision(decision_id: str, challenger: str, champion: str | None, applied: str,
              data_version: str = "data-v1") -> dict[str, Any]:
    return {"event": "gate_decision", "data": {
        "decision_id": decision_id, "verdict": "promote", "applied": applied,
        "challenger": {"version": challenger}, "data": {"version": data_version},
        "champion": {"version": champion} if champion else None}}


def _event(event: str, **data: Any) -> dict[str, Any]:
    return {"event": event, "data": data}


def test_a_pending_decision_is_finished_only_while_nothing_came_after_it() -> None:
    trail = [_decision("d1", "2", "1", pending_note("1", "2"))]
    assert unapplied(trail, "2", "data-v1") == Pending("d1", "1")
    assert unapplied(trail, "3", "data-v1") is None  # another candidate
    assert unapplied(trail, "2", "data-v2") is None  # judged on other data: decide again
    # Events that say nothing about the registry leave it pending.
    assert unapplied([*trail, _event("evaluation", run_id="r")], "2", "data-v1") == Pending(
        "d1", "1")
    trail.append(_event("rollback", rolled_back="2", restored="1"))
    assert unapplied(trail, "2", "data-v1") is None  # a retry must not undo a rollback
    trail.append(_decision("d2", "2", "1", pending_note("1", "2")))
    assert unapplied(trail, "2", "data-v1") == Pending("d2", "1")
    trail.append(_event("alias_moved", decision_id="d2", **{"from": "1", "to": "2"}))
    assert unapplied(trail, "2", "data-v1") is None  # seen through
    trail.append(_decision("d3", "3", "2", "nothing moved (rejected)"))
    assert unapplied(trail, "3", "data-v1") is None


def test_a_first_promotion_pends_from_no_champion() -> None:
    trail = [_decision("d1", "1", None, pending_note(None, "1"))]
    assert pending_note(None, "1") == "pending: champion none -> 1"
    assert unapplied(trail, "1", "data-v1") == Pending("d1", None)


def test_the_ledger_read_back_finishes_what_it_recorded(state_home: Path) -> None:
    layout = StateLayout.from_env()
    append(layout, "gate_decision", _decision("d1", "2", "1", pending_note("1", "2"))["data"],
           "user:t")
    assert unapplied(ledger.read(layout), "2", "data-v1") == Pending("d1", "1")
    record_move(layout, "d1", "1", "2", "champion 1 -> 2")
    assert unapplied(ledger.read(layout), "2", "data-v1") is None
    moved = list(ledger.read(layout))[-1]
    assert moved["event"] == "alias_moved"
    assert {k: moved["data"][k] for k in ("decision_id", "from", "to", "alias")} == {
        "decision_id": "d1", "from": "1", "to": "2", "alias": "champion"}

"""A decision recorded before its alias move, and finishing it after a kill.

`skinrisk promote` writes its decision to the ledger first, with `applied` saying "pending:
champion A -> B", and moves the alias after. A run killed between the two leaves that pending
decision; the rerun finishes it (moves the alias, records the move) instead of deciding again,
so one comparison spends alpha once and is recorded once. Only while the decision is still the
last word on the registry: a later decision, alias move or rollback (an operator's rollback
must not be undone by a retry) ends it, as does new data (judged on other test sets: decide
again).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from skinrisk import ledger
from skinrisk.layout import StateLayout
from skinrisk.ledger import Event
from skinrisk.tracking import CHAMPION, MODEL_NAME

PENDING = "pending:"
# The events that have the last word on the registry's champion.
_REGISTRY_EVENTS = (Event.GATE_DECISION, Event.ALIAS_MOVED, Event.ROLLBACK)


@dataclass(frozen=True)
class Pending:
    """A recorded promote decision whose alias move has not been recorded."""

    decision_id: str
    champion_before: str | None


def pending_note(champion: str | None, candidate: str) -> str:
    """The decision record's `applied` while its move is under way."""
    return f"{PENDING} champion {champion or 'none'} -> {candidate}"


def unapplied(entries: Iterable[dict[str, Any]], candidate: str,
              data_version: str) -> Pending | None:
    """The pending decision on ``candidate`` judged on ``data_version``, if it is still the
    last word on the registry in the ledger ``entries`` (oldest first); else None."""
    pending = None
    for entry in entries:
        event, data = entry["event"], entry["data"]
        if event not in _REGISTRY_EVENTS:
            continue
        pending = None
        if (event == Event.GATE_DECISION and str(data.get("applied", "")).startswith(PENDING)
                and str((data.get("challenger") or {}).get("version")) == candidate
                and (data.get("data") or {}).get("version") == data_version):
            pending = Pending(data["decision_id"], (data.get("champion") or {}).get("version"))
    return pending


def record_move(layout: StateLayout, decision_id: str, before: str | None, after: str,
                applied: str) -> None:
    """The ledger's record that `champion` moved (after the move itself: a kill between the
    two leaves a pending decision whose rerun sees the move done and records it then)."""
    ledger.record(layout, Event.ALIAS_MOVED, {
        "decision_id": decision_id, "model": MODEL_NAME, "alias": CHAMPION,
        "from": before, "to": after, "previous_champion": before, "applied": applied})

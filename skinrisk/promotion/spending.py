"""Repeated decisions on the same test sets: how many were already made, from the ledger.

Every comparison tests the same frozen held-out and cross-ethnic images again; alpha holds per
decision, not over a year of weekly decisions. `promote.spending` gives decision i of a
test-set generation the level alpha/2**i (or alpha/max_decisions), so the chance that any
challenger that is not better gets promoted within a generation stays below alpha (a union
bound: it holds however correlated the decisions are).

The count is derived from what is already recorded, not kept in a counter that could drift:
the ledger's `gate_decision` events carry the challenger, the champion, the data version and
each test set's size. Only comparisons count (a first model is judged on floors alone). A
rerun of the same challenger against the same champion on the same data version is the same
look (same images, same seed, same answer) and keeps its number. A generation ends when every
test set has grown by `refresh_growth` since the generation's first decision: by then at least
that share of each set is images no earlier decision has seen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from skinrisk.config import Spending
from skinrisk.ledger import Event


@dataclass(frozen=True)
class Look:
    """One comparison recorded in the ledger."""

    challenger: str
    champion: str
    data_version: str
    sizes: dict[str, int]

    @property
    def pair(self) -> tuple[str, str, str]:
        return self.challenger, self.champion, self.data_version


def looks(entries: Iterable[dict[str, Any]]) -> list[Look]:
    """The comparisons among the ledger's entries, oldest first."""
    out = []
    for entry in entries:
        data = entry.get("data") or {}
        champion = data.get("champion")
        if entry.get("event") != Event.GATE_DECISION or not champion:
            continue
        sizes = (data.get("data") or {}).get("test_set_sizes") or {}
        out.append(
            Look(
                str(data["challenger"]["version"]),
                str(champion["version"]),
                str(data["data"]["version"]),
                {k: int(v) for k, v in sizes.items()},
            )
        )
    return out


def earlier_decisions(history: list[Look], current: Look, spending: Spending) -> int:
    """How many distinct comparisons this generation of the test sets has already judged."""
    generation: list[Look] = []
    for look in [*history, current]:
        if generation and _refreshed(generation[0].sizes, look.sizes, spending.refresh_growth):
            generation = []
        if look.pair not in {g.pair for g in generation}:
            generation.append(look)
    pairs = [g.pair for g in generation]
    return pairs.index(current.pair)


def _refreshed(start: dict[str, int], now: dict[str, int], growth: float) -> bool:
    """Every test set of the generation's first decision has grown by ``growth``."""
    return bool(start) and all(
        now.get(name, 0) >= size * (1 + growth) for name, size in start.items()
    )

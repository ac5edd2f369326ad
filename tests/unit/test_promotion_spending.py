"""Alpha spent over repeated decisions on the same test sets, counted from the ledger."""

from __future__ import annotations

import pytest

from skinrisk.config import PromoteParams, Spending
from skinrisk.promotion.spending import Look, earlier_decisions, looks

SIZES = {"heldout": 1000, "cross_ethnic": 400}


def entry(
    challenger: str,
    champion: str | None,
    version: str = "data-v1",
    sizes: dict[str, int] = SIZES,
    event: str = "gate_decision",
) -> dict:
    return {
        "event": event,
        "data": {
            "challenger": {"version": challenger},
            "champion": {"version": champion} if champion else None,
            "data": {"version": version, "test_set_sizes": sizes},
        },
    }


@pytest.mark.parametrize("rule", ["geometric", "pocock"])
def test_a_generation_never_spends_more_than_alpha(rule: str) -> None:
    spending = Spending(rule=rule, max_decisions=4)
    levels = [spending.alpha(0.05, i) for i in range(1, 5)]
    assert sum(levels) <= 0.05
    assert levels == sorted(levels, reverse=True)


def test_only_comparisons_count_and_a_rerun_of_the_same_look_keeps_its_number() -> None:
    ledger = [
        entry("1", None),
        entry("2", "1"),
        {"event": "alias_moved", "data": {}},
        entry("3", "1"),
        entry("3", "1"),
    ]  # a dry run, then the real run: one look
    history = looks(ledger)
    assert [look.challenger for look in history] == ["2", "3", "3"]
    spending = Spending()
    assert earlier_decisions(history, Look("4", "1", "data-v1", SIZES), spending) == 2
    assert earlier_decisions(history, Look("2", "1", "data-v1", SIZES), spending) == 0
    assert earlier_decisions([], Look("2", "1", "data-v1", SIZES), spending) == 0


def test_the_count_restarts_only_when_every_test_set_has_grown() -> None:
    spending = Spending(refresh_growth=0.5)
    history = looks([entry("2", "1"), entry("3", "1"), entry("4", "1")])
    heldout_only = {"heldout": 1600, "cross_ethnic": 400}  # the cross-ethnic set is reused
    assert earlier_decisions(history, Look("5", "1", "data-v2", heldout_only), spending) == 3
    both = {"heldout": 1500, "cross_ethnic": 600}
    assert earlier_decisions(history, Look("5", "1", "data-v3", both), spending) == 0
    later = looks([entry("2", "1"), entry("5", "1", "data-v3", both)])
    assert earlier_decisions(later, Look("6", "5", "data-v3", both), spending) == 1


def test_params_refuse_a_budget_the_bootstrap_cannot_resolve() -> None:
    with pytest.raises(ValueError, match="max_decisions"):
        PromoteParams(bootstrap_resamples=200, spending={"max_decisions": 6})

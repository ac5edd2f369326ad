"""bench.gate at a few decisions per scenario: the direction of each effect, never a rate."""

from __future__ import annotations

import pytest

from bench.gate import run

pytestmark = [pytest.mark.ml, pytest.mark.slow]


def test_the_gate_bench_moves_the_right_way() -> None:
    # equal (correlated), +0.03 (correlated), -0.10 dangerous on V-VI, thin V-VI slice
    results = run(decisions=6, resamples=400, jobs=2, only=[1, 4, 6, 7])
    outcomes = {scenario.label.split(":")[0]: o for scenario, o in results}
    promoted = {label: sum(x["promoted"] for x in o) for label, o in outcomes.items()}
    assert promoted["+0.03 macro AUC"] > promoted["equal models"]
    assert promoted["+0.03 macro AUC"] > promoted["grade-in-slice harm"]
    thin = outcomes["thin slice"]
    assert all(x["thin"] for x in thin) and not any(x["promoted"] for x in thin)
    better = outcomes["+0.03 macro AUC"]
    assert all(x["gain"] and max(x["gain"]) < 0.05 for x in better)  # it says what it sees
    for x in better:  # wider margins never refuse more; later decisions never promote more
        assert x["margins"][max(x["margins"])] >= x["margins"][min(x["margins"])]
        assert x["decisions"][1] >= x["decisions"][4]

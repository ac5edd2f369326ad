"""The detectable-effect line: what the gate could see at this n, from the bootstrap's draws."""

from __future__ import annotations

import math

import numpy as np
import pytest

from skinrisk.promotion.decide import decide
from skinrisk.promotion.detectable import (
    Harm,
    clearance,
    detectable,
    smallest_gain,
    smallest_sure_harm,
)
from skinrisk.promotion.stats import Difference
from tests.unit.test_promotion_decide import PARAMS, cohort, model, sets


def normal_difference(point: float, sd: float, seed: int = 0) -> Difference:
    return Difference(point, point + np.random.default_rng(seed).normal(0, sd, 20_000))


@pytest.mark.parametrize("sd", [0.01, 0.02])
def test_the_detectable_gain_and_harm_match_the_normal_theory(sd: float) -> None:
    diff = normal_difference(0.01, sd)
    # one-sided test at 0.025 with power 0.8: (1.960 + 0.842) sd above min_delta
    assert smallest_gain(diff, 0.025, 0.0) == pytest.approx(2.802 * sd, abs=0.0015)
    assert smallest_gain(diff, 0.025, 0.01) == pytest.approx(0.01 + 2.802 * sd, abs=0.0015)
    # a harm h fails "lower bound > -margin" with probability 0.9 from margin - (1.960-1.282) sd
    assert smallest_sure_harm(diff, 0.025, 0.05) == pytest.approx(0.05 - 0.678 * sd, abs=0.0015)
    # an equal challenger passes with probability Phi(margin / sd - 1.960)
    expected = 0.5 * (1 + math.erf((0.05 / sd - 1.960) / math.sqrt(2)))
    assert clearance(diff, 0.025, 0.05) == pytest.approx(expected, abs=0.01)


def test_more_noise_means_a_larger_detectable_gain_and_a_lower_clearance() -> None:
    narrow, wide = normal_difference(0.0, 0.01), normal_difference(0.0, 0.03)
    assert smallest_gain(narrow, 0.025, 0.0) < smallest_gain(wide, 0.025, 0.0)
    assert clearance(narrow, 0.025, 0.05) > 0.99 > 0.6 > clearance(wide, 0.025, 0.05)
    line = detectable(
        "heldout",
        narrow,
        0.025,
        0.0,
        [
            Harm("AUC dangerous, skin_type V-VI", wide, 0.025, 0.05),
            Harm("macro AUC, skin_type V-VI", narrow, 0.025, 0.05),
        ],
    )
    assert line.clear_figure == "AUC dangerous, skin_type V-VI"
    assert line.harm <= 0.05  # a harm at the margin is caught whatever the noise
    assert "+0.028" in line.sentence() or "+0.029" in line.sentence()
    undefined = Difference(float("nan"), np.full(100, np.nan))
    assert smallest_gain(undefined, 0.025, 0.0) is None


def test_every_comparison_states_what_it_could_see_and_a_rejection_is_not_worse() -> None:
    truth, fitz, patients = cohort(2200)
    champion = sets(truth, fitz, patients, model(truth, 1.2, 1))
    equal = decide(sets(truth, fitz, patients, model(truth, 1.2, 3)), champion, PARAMS)
    again = decide(sets(truth, fitz, patients, model(truth, 1.2, 3)), champion, PARAMS)
    assert [d.test_set for d in equal.detectable] == ["heldout", "cross_ethnic"]
    assert equal.detectable == again.detectable  # deterministic with promote.seed
    for line in equal.detectable:
        assert 0.005 < line.gain < 0.08 and line.harm is not None and 0 < line.clear <= 1
    unseen = [r for r in equal.reasons if "no evidence of a macro AUC gain larger than" in r]
    assert unseen and all("not evidence that the challenger is worse" in r for r in unseen)
    first = decide(sets(truth, fitz, patients, model(truth, 2.0, 2)), None, PARAMS)
    assert first.detectable == []

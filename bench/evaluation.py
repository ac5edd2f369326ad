"""The patient-level bootstrap of the evaluation (target: thousands of resamples on ~1,000
predictions in about a second)."""

from __future__ import annotations

import time

import numpy as np

from skinrisk.metrics import patient_bootstrap_auc


def run() -> list[tuple[str, float, str]]:
    rng = np.random.default_rng(0)
    per = rng.integers(1, 4, size=500)
    patients = np.repeat(np.arange(500), per)
    truth = np.repeat(rng.integers(0, 3, size=500), per)
    logits = rng.normal(size=(len(truth), 3)) + np.eye(3)[truth]
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    start = time.perf_counter()
    patient_bootstrap_auc(truth, probabilities, patients, resamples=2000)
    return [(f"patient bootstrap of 3 AUCs + macro: 2000 resamples, {len(truth)} predictions",
             time.perf_counter() - start, "s")]


def gate() -> list[tuple[str, float, str]]:
    """The whole promotion decision on bench.gate's cohorts: two sets of 1,100 predictions
    from 900 patients, every criterion (grades, slices, grades in slices, sensitivity)."""
    from bench.gate_model import CHAMPION_AUC, Effect, SetModel, draw_pair
    from skinrisk.config import PromoteParams
    from skinrisk.promotion.decide import decide

    better = SetModel(effect=Effect(everywhere=(CHAMPION_AUC + 0.03,) * 3), rho=0.6)
    challenger, champion = draw_pair({"heldout": better, "cross_ethnic": better},
                                     np.random.default_rng(1))
    start = time.perf_counter()
    decide(challenger, champion, PromoteParams())
    return [("promotion decision: 2000 paired resamples, 2 sets x 1,100 predictions from 900 "
             "patients, every criterion", time.perf_counter() - start, "s")]

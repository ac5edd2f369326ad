"""The patient-level bootstrap of the evaluation (target: thousands of resamples on ~1,000
predictions in about a second)."""

from __future__ import annotations

import time

import numpy as np

from skinrisk.evaluation.metrics import patient_bootstrap_auc


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
    """The whole promotion decision: two models, two sets of 1,125 predictions, all slices."""
    from bench.gate import CHAMPION_SIGNAL, one_set, probabilities
    from skinrisk.config import PromoteParams
    from skinrisk.promotion.decide import decide

    rng = np.random.default_rng(1)
    champion, challenger = {}, {}
    for k, name in enumerate(("heldout", "cross_ethnic")):
        truth = rng.integers(0, 3, 1125)
        patients = np.asarray([f"{name}{i // 2}" for i in range(1125)], dtype=object)
        fitz = rng.integers(1, 7, 1125)
        champion[name] = one_set(truth, patients, fitz,
                                 probabilities(truth, CHAMPION_SIGNAL, rng), k * 1125)
        challenger[name] = one_set(truth, patients, fitz, probabilities(truth, 1.4, rng),
                                   k * 1125)
    start = time.perf_counter()
    decide(challenger, champion, PromoteParams())
    return [("promotion decision: 2000 paired resamples, 2 sets x 1,125 predictions, grades + "
             "skin-type slices", time.perf_counter() - start, "s")]

"""The gate's decision on simulated predictions with known truth, and its statistics."""

from __future__ import annotations

import numpy as np
import pytest

from skinrisk.config import PromoteParams
from skinrisk.evaluation.metrics import patient_weights
from skinrisk.evaluation.report import Predictions, skin_type
from skinrisk.promotion.decide import FAIL, INSUFFICIENT, PROMOTE, REJECT, decide
from skinrisk.promotion.stats import delong_paired, paired_differences

PARAMS = PromoteParams(bootstrap_resamples=1000, floors={"macro": 0.6, "low-risk": 0.6,
                                                         "high-risk": 0.6, "dangerous": 0.6})


def cohort(n: int = 1100, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, n)
    fitz = rng.integers(1, 7, n)
    patients = np.asarray([f"p{i // 2}" for i in range(n)], dtype=object)
    return truth, fitz, patients


def model(truth: np.ndarray, signal: np.ndarray | float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(len(truth), 3)) + np.eye(3)[truth] * np.reshape(signal, (-1, 1))
    return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


def sets(truth, fitz, patients, probabilities) -> dict[str, Predictions]:
    n = len(truth)
    p = Predictions([f"i{i}" for i in range(n)], probabilities, truth, patients,
                    {"skin_type": np.asarray([skin_type(int(f)) for f in fitz], dtype=object),
                     "source": np.asarray(["a"] * n, dtype=object),
                     "body_site": np.asarray(["arm"] * n, dtype=object)})
    half = np.arange(n) < n // 2
    return {"heldout": p.subset(half), "cross_ethnic": p.subset(~half)}


def test_a_truly_better_model_is_promoted_and_an_equal_one_is_not() -> None:
    truth, fitz, patients = cohort(2200)
    champion = sets(truth, fitz, patients, model(truth, 1.2, 1))
    better = decide(sets(truth, fitz, patients, model(truth, 2.0, 2)), champion, PARAMS)
    assert better.verdict == PROMOTE, better.reasons
    equal = decide(sets(truth, fitz, patients, model(truth, 1.2, 3)), champion, PARAMS)
    assert equal.verdict == REJECT
    assert any(c.kind == "superiority" and c.verdict == FAIL for c in equal.criteria)


def test_better_overall_but_worse_on_dark_skin_is_rejected_and_the_slice_is_named() -> None:
    truth, fitz, patients = cohort(2200)
    champion = sets(truth, fitz, patients, model(truth, 1.5, 1))
    dark = fitz >= 5
    signal = np.where(dark, 0.7, 2.4)  # much better on I-IV, much worse on V-VI
    decision = decide(sets(truth, fitz, patients, model(truth, signal, 2)), champion, PARAMS)
    assert decision.verdict == REJECT
    failed = [c for c in decision.criteria if c.verdict == FAIL]
    assert failed and all("skin_type V-VI" in c.figure for c in failed)
    assert any("skin_type V-VI" in r for r in decision.reasons)
    superiority = [c for c in decision.criteria if c.kind == "superiority"]
    assert all(c.verdict == "pass" for c in superiority)  # better overall, still rejected


def test_a_thin_slice_is_insufficient_evidence_under_an_explicit_policy() -> None:
    truth, fitz, patients = cohort(2200)
    fitz[:] = 3
    fitz[:30] = 6  # 15 V-VI images per set: fewer than min_n positives of any grade
    champion = sets(truth, fitz, patients, model(truth, 1.2, 1))
    challenger = sets(truth, fitz, patients, model(truth, 2.0, 2))
    strict = decide(challenger, champion, PARAMS)
    thin = [c for c in strict.criteria if c.verdict == INSUFFICIENT]
    assert thin and all("V-VI" in c.figure and c.value is None for c in thin)
    assert strict.verdict == REJECT
    lenient = decide(challenger, champion, PARAMS.model_copy(
        update={"insufficient_evidence": "allow"}))
    assert lenient.verdict == PROMOTE
    assert any(r.startswith("allowed by policy, not judged") and "V-VI" in r
               for r in lenient.reasons)


def test_fail_closed_on_a_missing_set_and_the_first_model_only_through_the_floors() -> None:
    truth, fitz, patients = cohort()
    good = sets(truth, fitz, patients, model(truth, 2.0, 2))
    first = decide(good, None, PARAMS)
    assert first.verdict == PROMOTE and first.first_model
    assert {c.kind for c in first.criteria} == {"floor"}
    assert "no champion yet" in first.reasons[0]
    weak = decide(sets(truth, fitz, patients, model(truth, 0.1, 2)), None, PARAMS)
    assert weak.verdict == REJECT and any(c.kind == "floor" for c in weak.criteria
                                          if c.verdict == FAIL)
    missing = decide({"heldout": good["heldout"]}, None, PARAMS)
    assert missing.verdict == REJECT
    assert any(c.kind == "evidence" and c.test_set == "cross_ethnic" for c in missing.criteria)
    other_images = {k: v.subset(np.arange(len(v)) > 0) for k, v in good.items()}
    unpaired = decide(good, other_images, PARAMS)
    assert unpaired.verdict == REJECT
    assert any(c.figure == "paired predictions" for c in unpaired.criteria)


def test_the_paired_bootstrap_agrees_with_delong_on_independent_images() -> None:
    truth, _, _ = cohort(1000, seed=4)
    a, b = model(truth, 1.2, 5), model(truth, 1.6, 6)
    patients = np.asarray([f"p{i}" for i in range(1000)], dtype=object)  # one image each
    diffs = paired_differences(truth, a, b, patient_weights(patients, 4000, 0))
    for k, grade in enumerate(("low-risk", "high-risk", "dangerous")):
        delta, se = delong_paired(truth == k, a[:, k], b[:, k])
        assert diffs[grade].point == pytest.approx(delta, abs=1e-9)
        assert np.nanstd(diffs[grade].draws) == pytest.approx(se, rel=0.12)


def test_delong_matches_a_hand_computed_case() -> None:
    positive = np.array([1, 1, 0, 0, 1, 0], bool)
    a = np.array([0.9, 0.4, 0.5, 0.1, 0.8, 0.3])
    b = np.array([0.9, 0.7, 0.5, 0.1, 0.8, 0.3])
    delta, se = delong_paired(positive, a, b)
    assert delta == pytest.approx(1.0 - 8 / 9)  # a: 8 of 9 pairs ordered (0.4 < 0.5); b: 9
    assert se > 0

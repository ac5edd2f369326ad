"""The gate's decision on simulated predictions with known truth, and its statistics."""

from __future__ import annotations

import numpy as np
import pytest

from skinrisk.config import PromoteParams
from skinrisk.evaluation.report import Predictions, skin_type
from skinrisk.metrics import patient_weights
from skinrisk.promotion.decide import FAIL, INSUFFICIENT, PROMOTE, REJECT, REPORTED, decide
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
    # every AUC that fails is a V-VI one (the harm also costs sensitivity on the whole set)
    assert failed and all("skin_type V-VI" in c.figure for c in failed if "AUC" in c.figure)
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
    assert any(r.startswith("allowed by policy") and "not judged" in r and "V-VI" in r
               for r in lenient.reasons)


def test_fail_closed_on_a_missing_set_and_the_first_model_only_through_the_floors() -> None:
    truth, fitz, patients = cohort()
    good = sets(truth, fitz, patients, model(truth, 2.0, 2))
    first = decide(good, None, PARAMS)
    assert first.verdict == PROMOTE and first.first_model
    assert {c.kind for c in first.criteria} == {"evidence", "floor"}
    assert all(c.verdict == "pass" for c in first.criteria if c.kind == "evidence")
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


# The six findings of issue 21, each on synthetic predictions with a known answer.

def _noisy_dangerous(p: np.ndarray, rows: np.ndarray, sd: float, seed: int) -> np.ndarray:
    """Scramble the dangerous column on ``rows`` only: that grade's AUC there drops, no other
    figure moves (each grade is judged on its own column, one vs rest)."""
    out = p.copy()
    out[:, 2] *= np.exp(np.where(rows, np.random.default_rng(seed).normal(0, sd, len(p)), 0))
    return out


def _by_figure(decision, test_set: str, figure: str):
    return next(c for c in decision.criteria if c.test_set == test_set and c.figure == figure)


def test_harm_to_the_dangerous_grade_inside_a_slice_is_not_averaged_away() -> None:
    truth, fitz, patients = cohort(2200)
    champion = sets(truth, fitz, patients, model(truth, 1.5, 1))
    # Better everywhere, but dangerous AUC about 0.10 lower on V-VI: the slice's macro AUC
    # barely moves, so a gate that looks only at slice macro AUCs promotes it.
    harmed = _noisy_dangerous(model(truth, 2.0, 2), fitz >= 5, 1.5, 9)
    # At the earlier gate's margin (0.05) the V-VI macro AUC passes: only the grade sees it.
    params = PARAMS.model_copy(update={"non_inferiority_margin": 0.05})
    decision = decide(sets(truth, fitz, patients, harmed), champion, params)
    assert decision.verdict == REJECT
    for name in ("heldout", "cross_ethnic"):
        assert _by_figure(decision, name, "macro AUC, skin_type V-VI").verdict == "pass"
        assert _by_figure(decision, name, "AUC dangerous, skin_type V-VI").verdict == FAIL
    assert any("AUC dangerous, skin_type V-VI" in r for r in decision.reasons)


def test_evidence_is_counted_in_patients_for_slices_and_whole_sets() -> None:
    truth, fitz, patients = cohort(2200)
    # ~120 dangerous V-VI images per set, all from two patients: enough images, two observations.
    few = (fitz >= 5) & (truth == 2)
    patients = np.where(few, np.where(np.arange(2200) % 2 == 0, "d0", "d1"), patients)
    champion = sets(truth, fitz, patients, model(truth, 1.2, 1))
    challenger = sets(truth, fitz, patients, model(truth, 2.0, 2))
    decision = decide(challenger, champion, PARAMS)
    thin = _by_figure(decision, "heldout", "AUC dangerous, skin_type V-VI")
    assert thin.verdict == INSUFFICIENT and thin.value is None
    assert "patients" in thin.threshold and "dangerous" in thin.threshold
    assert _by_figure(decision, "heldout", "macro AUC, skin_type I-II").verdict == "pass"
    assert decision.verdict == REJECT  # the declared policy: insufficient evidence rejects
    # A whole set of 60 patients is below min_n.whole_set: named, and rejects under the policy.
    small_truth, small_fitz, small_patients = cohort(240)
    small = decide(sets(small_truth, small_fitz, small_patients, model(small_truth, 3.0, 2)),
                   None, PARAMS)
    evidence = [c for c in small.criteria if c.kind == "evidence"]
    assert {c.test_set for c in evidence} == {"heldout", "cross_ethnic"}
    assert all(c.verdict == INSUFFICIENT and "patients" in c.threshold for c in evidence)
    assert small.verdict == REJECT
    allowed = decide(sets(small_truth, small_fitz, small_patients, model(small_truth, 3.0, 2)),
                     None, PARAMS.model_copy(update={"insufficient_evidence": "allow"}))
    assert allowed.verdict == PROMOTE
    assert any("allowed by policy" in r and "patients" in r for r in allowed.reasons)


def test_the_interval_in_the_record_is_the_bound_at_the_level_tested() -> None:
    truth, fitz, patients = cohort(2200)
    champion = sets(truth, fitz, patients, model(truth, 1.2, 1))
    seen = set()
    for seed in range(2, 8):  # small true gains: some pass, some do not
        decision = decide(sets(truth, fitz, patients, model(truth, 1.3, seed)), champion, PARAMS)
        for c in decision.criteria:
            if c.kind == "superiority":
                assert c.alpha == pytest.approx(PARAMS.alpha / 2)  # the first decision's level
                assert c.interval[1] is None  # one-sided: no upper end was tested
                assert (c.verdict == "pass") == (c.interval[0] > PARAMS.min_delta)
                assert f"alpha {c.alpha:g}" in c.sentence()
                seen.add(c.verdict)
            elif c.kind == "non-inferiority" and c.interval:
                assert c.alpha == PARAMS.non_inferiority_alpha and c.interval[1] is None
    assert seen == {"pass", FAIL}


def test_a_thin_unknown_skin_type_slice_is_reported_not_gated_by_default() -> None:
    truth, fitz, patients = cohort(2200)
    fitz[:40:2] = 0  # 20 images without a Fitzpatrick type (skin type "unknown")
    champion = sets(truth, fitz, patients, model(truth, 1.2, 1))
    challenger = sets(truth, fitz, patients, model(truth, 2.0, 2))
    decision = decide(challenger, champion, PARAMS)
    assert decision.verdict == PROMOTE, decision.reasons
    unknown = [c for c in decision.criteria if "unknown" in c.figure]
    assert unknown and all(c.verdict == REPORTED for c in unknown)
    assert any("unknown_slice: report" in r for r in decision.reasons)
    gated = decide(challenger, champion, PARAMS.model_copy(update={"unknown_slice": "gate"}))
    assert gated.verdict == REJECT
    assert any("unknown" in c.figure and c.verdict == INSUFFICIENT for c in gated.criteria)


def test_dangerous_sensitivity_at_the_champions_threshold_is_gated() -> None:
    truth, fitz, patients = cohort(2200)
    champion = sets(truth, fitz, patients, model(truth, 1.5, 1))
    better = model(truth, 2.0, 2)
    shy = better.copy()
    shy[:, 2] *= 0.3  # same ranking (every AUC unchanged), far fewer above the champion's cut
    decision = decide(sets(truth, fitz, patients, shy), champion, PARAMS)
    assert decision.verdict == REJECT
    failed = [c for c in decision.criteria if c.verdict == FAIL]
    assert failed and all("sensitivity dangerous" in c.figure for c in failed)
    assert {c.test_set for c in failed} == {"heldout", "cross_ethnic"}
    assert any("skin_type V-VI" in c.figure for c in failed)  # per slice too
    assert decide(sets(truth, fitz, patients, better), champion, PARAMS).verdict == PROMOTE


def test_each_further_decision_on_the_same_test_sets_spends_less_alpha() -> None:
    truth, fitz, patients = cohort(2200)
    champion = sets(truth, fitz, patients, model(truth, 1.2, 1))
    challenger = sets(truth, fitz, patients, model(truth, 1.3, 5))  # p 0.006 and 0.018
    # Margins out of the way: only the superiority test's level is under test here.
    params = PARAMS.model_copy(update={"non_inferiority_margin": 0.5, "slice_grade_margin": 0.5,
                                       "sensitivity_margin": 1.0})
    first = decide(challenger, champion, params, earlier=0)  # alpha 0.05 / 2
    assert first.verdict == PROMOTE, first.reasons
    fourth = decide(challenger, champion, params, earlier=3)  # alpha 0.05 / 2**4
    assert fourth.verdict == REJECT
    assert all(c.alpha == pytest.approx(0.05 / 16) for c in fourth.criteria
               if c.kind == "superiority")
    spent = decide(challenger, champion, params, earlier=PARAMS.spending.max_decisions)
    assert spent.verdict == REJECT
    assert any(c.kind == "evidence" and "refresh" in c.threshold for c in spent.criteria)


def test_insufficient_evidence_never_waives_the_claim_of_a_gain() -> None:
    truth, fitz, patients = cohort(2200)
    # every dangerous image of a set from one patient: a third of the resamples lack the grade
    patients = np.where(truth == 2, np.where(np.arange(2200) < 1100, "d0", "d1"), patients)
    champion = sets(truth, fitz, patients, model(truth, 1.2, 1))
    challenger = sets(truth, fitz, patients, model(truth, 2.0, 2))
    allow = PARAMS.model_copy(update={"insufficient_evidence": "allow"})
    decision = decide(challenger, champion, allow)
    superiority = [c for c in decision.criteria if c.kind == "superiority"]
    assert all(c.verdict == INSUFFICIENT and "resamples" in c.threshold for c in superiority)
    assert decision.verdict == REJECT
    assert any(r.startswith("not promoted") and "superiority" in r for r in decision.reasons)

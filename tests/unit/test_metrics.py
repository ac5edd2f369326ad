"""Evaluation metrics against scikit-learn on fixed arrays, and the bootstrap's coverage."""

import numpy as np
import pytest

from skinrisk.metrics import (
    auc_one_vs_rest,
    confusion_row_normalised,
    patient_bootstrap_auc,
    weighted_auc,
    youden,
)

sklearn = pytest.importorskip("sklearn.metrics", reason="scikit-learn is in the ml environment")
pytestmark = pytest.mark.ml


@pytest.mark.parametrize("seed", range(5))
def test_auc_matches_scikit_learn_including_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.random(300) < 0.3
    scores = np.round(rng.random(300) + labels * 0.4, 1)  # rounding makes many ties
    assert auc_one_vs_rest(labels, scores) == pytest.approx(
        sklearn.roc_auc_score(labels, scores), abs=1e-12)


def test_weighted_auc_equals_the_auc_of_the_repeated_sample() -> None:
    rng = np.random.default_rng(9)
    labels, scores = rng.random(50) < 0.5, rng.random(50)
    weights = rng.integers(0, 4, size=50).astype(float)
    repeated = np.repeat(np.arange(50), weights.astype(int))
    assert weighted_auc(labels, scores, weights)[0] == pytest.approx(
        sklearn.roc_auc_score(labels[repeated], scores[repeated]))


def test_auc_is_nan_without_both_classes() -> None:
    assert np.isnan(auc_one_vs_rest(np.zeros(5, bool), np.arange(5.0)))


def test_youden_point_matches_the_roc_curve() -> None:
    rng = np.random.default_rng(3)
    labels = rng.random(400) < 0.4
    scores = rng.random(400) + labels * 0.5
    point = youden(labels, scores)
    fpr, tpr, thresholds = sklearn.roc_curve(labels, scores)
    best = np.argmax(tpr - fpr)
    assert point.sensitivity == pytest.approx(tpr[best])
    assert point.specificity == pytest.approx(1 - fpr[best])
    assert point.threshold == pytest.approx(thresholds[best])


def test_confusion_rows_sum_to_one_and_match_scikit_learn() -> None:
    truth = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2])
    predicted = np.array([0, 1, 1, 1, 2, 2, 2, 0, 2])
    ours = confusion_row_normalised(truth, predicted)
    assert np.allclose(ours.sum(axis=1), 1)
    assert np.allclose(ours, sklearn.confusion_matrix(truth, predicted, normalize="true"))


def _simulate(rng: np.random.Generator, patients: int, separation: float):
    per = rng.integers(1, 4, size=patients)
    patient = np.repeat(np.arange(patients), per)
    truth = np.repeat(rng.integers(0, 3, size=patients), per)
    logits = rng.normal(size=(len(truth), 3)) + separation * np.eye(3)[truth]
    logits += np.repeat(rng.normal(size=(patients, 3)), per, axis=0)  # patient effect
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return truth, probabilities, patient


def test_bootstrap_ci_covers_the_population_auc_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(0)
    truth, probabilities, _ = _simulate(rng, 20000, 1.0)
    population = auc_one_vs_rest(truth == 2, probabilities[:, 2])
    covered = 0
    trials = 60
    for trial in range(trials):
        t, p, pa = _simulate(np.random.default_rng(100 + trial), 150, 1.0)
        low, high = patient_bootstrap_auc(t, p, pa, resamples=400, seed=trial)["dangerous"]
        covered += low <= population <= high
    assert 0.85 <= covered / trials <= 1.0


def test_bootstrap_gives_an_interval_for_every_grade_and_the_macro_auc() -> None:
    truth, probabilities, patient = _simulate(np.random.default_rng(1), 500, 1.0)
    ci = patient_bootstrap_auc(truth, probabilities, patient, resamples=500)
    assert set(ci) == {"low-risk", "high-risk", "dangerous", "macro"}
    for grade, (low, high) in ci.items():
        point = (auc_one_vs_rest(truth == ["low-risk", "high-risk", "dangerous"].index(grade),
                                 probabilities[:, ["low-risk", "high-risk",
                                                   "dangerous"].index(grade)])
                 if grade != "macro" else None)
        assert low < high
        if point is not None:
            assert low <= point <= high

"""Classification metrics for the three risk grades, in NumPy, vectorised for the bootstrap.

AUC is the Mann-Whitney statistic with weights: sort the scores once, then for every set of
weights (one row per bootstrap resample) add up, group of tied scores by group, the positives'
weight times the negatives' weight below them (ties count one half). A resample only changes
the weights, never the order, so thousands of resamples cost one pass over an array each.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from skinrisk.taxonomy import RiskGrade

GRADES = tuple(g.value for g in RiskGrade)


def weighted_auc(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC for each row of ``weights`` (resamples x n); NaN where a class has no weight."""
    order = np.argsort(scores, kind="mergesort")
    ordered = scores[order]
    positive = np.asarray(labels, dtype=bool)[order]
    w = np.atleast_2d(weights)[:, order].astype(np.float64)
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])  # groups of ties
    pos, neg = np.where(positive, w, 0.0), np.where(positive, 0.0, w)
    if len(starts) < len(ordered):  # merging tied scores costs a copy; most scores have none
        pos, neg = np.add.reduceat(pos, starts, axis=1), np.add.reduceat(neg, starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    total = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (pos * (below + 0.5 * neg)).sum(axis=1) / total
    return np.where(total > 0, auc, np.nan)


def auc_one_vs_rest(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC of ``scores`` for the positive class ``labels``; NaN if a class is absent."""
    return float(weighted_auc(labels, np.asarray(scores, np.float64),
                              np.ones(len(scores)))[0])


@dataclass(frozen=True)
class YoudenPoint:
    threshold: float
    sensitivity: float
    specificity: float


def youden(labels: np.ndarray, scores: np.ndarray) -> YoudenPoint:
    """The threshold maximising sensitivity + specificity - 1 (score >= threshold: positive)."""
    labels = np.asarray(labels, dtype=bool)
    thresholds = np.unique(scores)[::-1]
    predicted = scores[None, :] >= thresholds[:, None]
    sensitivity = (predicted & labels).sum(axis=1) / max(labels.sum(), 1)
    specificity = (~predicted & ~labels).sum(axis=1) / max((~labels).sum(), 1)
    best = int(np.argmax(sensitivity + specificity - 1))
    return YoudenPoint(float(thresholds[best]), float(sensitivity[best]),
                       float(specificity[best]))


def confusion_row_normalised(truth: np.ndarray, predicted: np.ndarray, classes: int = 3
                             ) -> np.ndarray:
    """Rows: true grade; columns: predicted grade; each row sums to 1 (the paper's figure 4)."""
    counts = np.zeros((classes, classes))
    np.add.at(counts, (truth, predicted), 1)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def patient_weights(patients: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """resamples x n image weights: patients drawn with replacement, an image weighing as often
    as its patient was drawn (images of one patient are correlated; resampling images would
    make intervals too narrow)."""
    rng = np.random.default_rng(seed)
    _, patient_index = np.unique(patients, return_inverse=True)
    n_patients = int(patient_index.max()) + 1
    draws = rng.integers(0, n_patients, size=(resamples, n_patients))
    counts = np.zeros((resamples, n_patients))
    np.add.at(counts, (np.arange(resamples)[:, None], draws), 1.0)
    return counts[:, patient_index]


def patient_bootstrap_auc(truth: np.ndarray, probabilities: np.ndarray, patients: np.ndarray,
                          resamples: int = 2000, seed: int = 0, level: float = 0.95
                          ) -> dict[str, tuple[float, float]]:
    """Percentile CIs of each grade's and the macro AUC, resampling patients, not images
    (images of one patient are correlated; resampling images would make the CI too narrow)."""
    weights = patient_weights(patients, resamples, seed)
    low, high = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    with warnings.catch_warnings():  # a grade absent from a small slice: NaN, reported as such
        warnings.simplefilter("ignore", RuntimeWarning)
        return _intervals(truth, probabilities, weights, low, high)


def _intervals(truth: np.ndarray, probabilities: np.ndarray, weights: np.ndarray, low: float,
               high: float) -> dict[str, tuple[float, float]]:
    per_grade = [weighted_auc(truth == k, probabilities[:, k].astype(np.float64), weights)
                 for k in range(len(GRADES))]
    out = {grade: (float(np.nanpercentile(auc, low)), float(np.nanpercentile(auc, high)))
           for grade, auc in zip(GRADES, per_grade, strict=True)}
    macro = np.nanmean(np.stack(per_grade), axis=0)
    out["macro"] = (float(np.nanpercentile(macro, low)), float(np.nanpercentile(macro, high)))
    return out

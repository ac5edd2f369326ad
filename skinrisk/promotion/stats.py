"""Paired comparisons of two models on the same images: patient-level bootstrap and DeLong.

The bootstrap draws patients once per resample and weighs both models' predictions with the
same draw, so the spread of the difference reflects only what differs between the models. One
set of weights serves every grade and every slice (a slice is a subset of columns).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skinrisk.metrics import GRADES, auc_one_vs_rest, weighted_auc


@dataclass(frozen=True)
class Difference:
    """challenger - champion for one figure: the point value and its bootstrap draws."""

    point: float
    draws: np.ndarray  # one value per resample (NaN where a resample lacks a class)

    def lower(self, alpha: float) -> float:
        """One-sided percentile lower bound at level 1 - ``alpha``: the bound a one-sided test
        at ``alpha`` actually compares with its threshold."""
        finite = self.draws[np.isfinite(self.draws)]
        return float(np.percentile(finite, alpha * 100)) if finite.size else float("nan")

    @property
    def undefined(self) -> float:
        """Share of resamples where the figure does not exist (a class drawn out entirely)."""
        return float(np.mean(~np.isfinite(self.draws))) if self.draws.size else 1.0

    def p_not_above(self, margin: float) -> float:
        """One-sided bootstrap p-value for H0: difference <= margin (add-one smoothed)."""
        finite = self.draws[np.isfinite(self.draws)]
        return float((1 + np.sum(finite <= margin)) / (1 + finite.size))


def paired_differences(truth: np.ndarray, champion: np.ndarray, challenger: np.ndarray,
                       weights: np.ndarray, columns: np.ndarray | None = None
                       ) -> dict[str, Difference]:
    """Per grade and macro AUC differences over the images selected by ``columns``."""
    if columns is not None:
        truth, champion, challenger = truth[columns], champion[columns], challenger[columns]
        weights = weights[:, columns]
    out, points, draws = {}, [], []
    for k, grade in enumerate(GRADES):
        positive = truth == k
        point = (auc_one_vs_rest(positive, challenger[:, k])
                 - auc_one_vs_rest(positive, champion[:, k]))
        delta = (weighted_auc(positive, challenger[:, k].astype(np.float64), weights)
                 - weighted_auc(positive, champion[:, k].astype(np.float64), weights))
        out[grade] = Difference(point, delta)
        points.append(point)
        draws.append(delta)
    with np.errstate(invalid="ignore"):
        present = [k for k, p in enumerate(points) if np.isfinite(p)]
        macro_point = float(np.mean([points[k] for k in present])) if present else float("nan")
        macro_draws = (np.mean(np.stack([draws[k] for k in present]), axis=0) if present
                       else np.full(weights.shape[0], np.nan))
    out["macro"] = Difference(macro_point, macro_draws)
    return out


def paired_sensitivity(positive: np.ndarray, champion: np.ndarray, challenger: np.ndarray,
                       threshold: float, weights: np.ndarray) -> Difference:
    """Sensitivity at one fixed ``threshold`` (score >= threshold: flagged), challenger minus
    champion. The threshold is the champion's operating point, held fixed in every resample:
    the question is what the deployed cut-off would catch, not how well a re-tuned one could."""
    positive = np.asarray(positive, bool)
    hits = [(scores >= threshold) & positive for scores in (champion, challenger)]
    point = float((hits[1].sum() - hits[0].sum()) / max(positive.sum(), 1))
    w = np.atleast_2d(weights).astype(np.float64)
    caught = w @ (hits[1].astype(np.float64) - hits[0].astype(np.float64))
    total = w @ positive.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        draws = np.where(total > 0, caught / total, np.nan)
    return Difference(point if positive.any() else float("nan"), draws)


def delong_paired(positive: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """DeLong et al. (1988): (AUC_b - AUC_a, its standard error) for two scores on the same
    images. Image-level (no clustering): the reference the bootstrap is checked against."""
    positive = np.asarray(positive, bool)
    components = []
    for scores in (a, b):
        pos, neg = scores[positive], scores[~positive]
        # structural components: V10 per positive, V01 per negative (ties count 1/2)
        greater = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
        components.append((greater.mean(axis=1), greater.mean(axis=0), greater.mean()))
    (v10a, v01a, auc_a), (v10b, v01b, auc_b) = components
    s10 = np.cov(np.vstack([v10a, v10b]))
    s01 = np.cov(np.vstack([v01a, v01b]))
    m, n = positive.sum(), (~positive).sum()
    var = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / m + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / n
    return float(auc_b - auc_a), float(np.sqrt(max(var, 0.0)))

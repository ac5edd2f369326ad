"""The gate's decision: pure, from both models' predictions on the same images and the params.

Every criterion is listed with its value, interval, threshold and verdict; the decision is
"promote" only when every criterion passes (an "insufficient evidence" slice passes only under
the explicit `allow` policy, and is named either way). Fail closed: an empty or missing test
set, a figure that cannot be computed, or two models predicted on different images reject.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from skinrisk.config import PromoteParams
from skinrisk.evaluation.metrics import GRADES, auc_one_vs_rest, patient_weights
from skinrisk.evaluation.report import Predictions
from skinrisk.promotion.stats import Difference, paired_differences

PROMOTE, REJECT = "promote", "reject"
PASS, FAIL, INSUFFICIENT = "pass", "fail", "insufficient evidence"


@dataclass(frozen=True)
class Criterion:
    kind: str  # evidence | floor | superiority | non-inferiority
    test_set: str
    figure: str  # "macro AUC", "AUC dangerous", "macro AUC, skin_type V-VI", ...
    value: float | None  # the challenger's AUC (floors) or challenger - champion
    interval: tuple[float, float] | None
    threshold: str
    verdict: str
    p_value: float | None = None
    n: int | None = None

    def sentence(self) -> str:
        value = "n/a" if self.value is None else f"{self.value:+.4f}" if self.kind in (
            "superiority", "non-inferiority") else f"{self.value:.4f}"
        ci = (f" [{self.interval[0]:+.4f}, {self.interval[1]:+.4f}]"
              if self.interval and np.all(np.isfinite(self.interval)) else "")
        p = f", p={self.p_value:.4f}" if self.p_value is not None else ""
        n = f", n={self.n}" if self.n is not None else ""
        return (f"{self.test_set}: {self.kind} on {self.figure}: {value}{ci}{p}{n}; needs "
                f"{self.threshold} -> {self.verdict}")


@dataclass(frozen=True)
class Decision:
    verdict: str
    first_model: bool
    criteria: list[Criterion] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def decide(challenger: dict[str, Predictions], champion: dict[str, Predictions] | None,
           params: PromoteParams) -> Decision:
    criteria: list[Criterion] = []
    for name in params.test_sets:
        mine = challenger.get(name)
        if mine is None or not len(mine):
            criteria.append(Criterion("evidence", name, "test set", None, None,
                                      "a non-empty test set", FAIL, n=0))
            continue
        criteria += _floors(name, mine, params)
        if champion is not None:
            criteria += _compare(name, mine, champion.get(name), params)
    return _verdict(criteria, champion is None, params)


def _floors(name: str, p: Predictions, params: PromoteParams) -> list[Criterion]:
    aucs = {grade: auc_one_vs_rest(p.truth == k, p.probabilities[:, k])
            for k, grade in enumerate(GRADES)}
    present = [v for v in aucs.values() if np.isfinite(v)]
    figures = {"macro": float(np.mean(present)) if len(present) == len(GRADES) else float("nan"),
               **aucs}
    out = []
    for figure, value in figures.items():
        floor = params.floors.of(figure)
        ok = bool(np.isfinite(value) and value >= floor)
        label = "macro AUC" if figure == "macro" else f"AUC {figure}"
        out.append(Criterion("floor", name, label, _num(value), None, f">= {floor:.3f}",
                             PASS if ok else FAIL, n=len(p)))
    return out


def _compare(name: str, mine: Predictions, theirs: Predictions | None,
             params: PromoteParams) -> list[Criterion]:
    if theirs is None or sorted(theirs.image_ids) != sorted(mine.image_ids):
        return [Criterion("evidence", name, "paired predictions", None, None,
                          "both models predicted on the same images", FAIL, n=len(mine))]
    order = {image_id: i for i, image_id in enumerate(theirs.image_ids)}
    champion = theirs.probabilities[[order[i] for i in mine.image_ids]]
    weights = patient_weights(mine.patients, params.bootstrap_resamples, params.seed)
    diffs = paired_differences(mine.truth, champion, mine.probabilities, weights)
    out = [_superiority(name, diffs["macro"], params, len(mine))]
    for grade in GRADES:
        out.append(_non_inferior(name, f"AUC {grade}", diffs[grade], params, len(mine)))
    for slice_name in params.slices:
        values = mine.slices[slice_name]
        for value in sorted(set(values.tolist())):
            columns = values == value
            label = f"macro AUC, {slice_name} {value}"
            n = int(columns.sum())
            thin = _thin_grades(mine.truth[columns], params.min_n)
            if thin:
                out.append(Criterion("non-inferiority", name, label, None, None,
                                     f">= {params.min_n} positives and negatives per grade "
                                     f"(short: {', '.join(thin)})", INSUFFICIENT, n=n))
                continue
            sliced = paired_differences(mine.truth, champion, mine.probabilities, weights,
                                        columns)
            out.append(_non_inferior(name, label, sliced["macro"], params, n))
    return out


def _thin_grades(truth: np.ndarray, min_n: int) -> list[str]:
    return [g for k, g in enumerate(GRADES)
            if (truth == k).sum() < min_n or (truth != k).sum() < min_n]


def _superiority(name: str, diff: Difference, params: PromoteParams, n: int) -> Criterion:
    p = diff.p_not_above(params.min_delta)
    ok = bool(np.isfinite(diff.point) and diff.point > params.min_delta and p < params.alpha)
    return Criterion("superiority", name, "macro AUC", _num(diff.point),
                     diff.bound(params.confidence),
                     f"> {params.min_delta:+.3f} with one-sided p < {params.alpha}",
                     PASS if ok else FAIL, p_value=p, n=n)


def _non_inferior(name: str, label: str, diff: Difference, params: PromoteParams,
                  n: int) -> Criterion:
    low, high = diff.bound(params.confidence)
    ok = bool(np.isfinite(low) and low > -params.non_inferiority_margin)
    return Criterion("non-inferiority", name, label, _num(diff.point), (low, high),
                     f"lower bound > {-params.non_inferiority_margin:+.3f}",
                     PASS if ok else FAIL, n=n)


def _verdict(criteria: list[Criterion], first: bool, params: PromoteParams) -> Decision:
    blocking = [c for c in criteria if c.verdict == FAIL or (
        c.verdict == INSUFFICIENT and params.insufficient_evidence == "reject")]
    noted = [c for c in criteria if c.verdict == INSUFFICIENT]
    if blocking:
        reasons = [f"not promoted: {c.sentence()}" for c in blocking]
    elif first:
        reasons = ["promoted: no champion yet, so nothing to compare with; it meets every "
                   "absolute floor on every test set (the only test for a first model)"]
    else:
        reasons = ["promoted: it beats the champion on the primary metric on every test set, "
                   "is non-inferior on every grade and judged slice, and meets every floor"]
    if noted and not blocking:
        reasons += [f"allowed by policy, not judged: {c.sentence()}" for c in noted]
    return Decision(REJECT if blocking else PROMOTE, first, criteria, reasons)


def _num(value: float) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None

"""The gate's decision: pure, from both models' predictions on the same images and the params.

Every criterion is listed with its value, the bound it was tested on, threshold and verdict;
the decision is "promote" only when every criterion passes. "Insufficient evidence" (fewer
patients than `min_n`) passes only under the explicit `allow` policy, and is named either way;
an "unknown" slice value (skin type not recorded) is judged or only reported as
`unknown_slice` says, and the record says which. Fail closed: an empty or missing test set, a
figure that cannot be computed, two models predicted on different images, or a test-set
generation whose alpha is spent reject.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from skinrisk.config import PromoteParams
from skinrisk.evaluation.report import Predictions
from skinrisk.metrics import GRADES, auc_one_vs_rest
from skinrisk.promotion import criteria as cr
from skinrisk.promotion.compare import UNKNOWN, compare
from skinrisk.promotion.criteria import FAIL, INSUFFICIENT, PASS, REPORTED, Criterion
from skinrisk.promotion.detectable import POWER, Detectable
from skinrisk.promotion.evidence import requirement, shortfall

PROMOTE, REJECT = "promote", "reject"
__all__ = [
    "FAIL",
    "INSUFFICIENT",
    "PASS",
    "PROMOTE",
    "REJECT",
    "REPORTED",
    "Criterion",
    "Decision",
    "decide",
]


@dataclass(frozen=True)
class Decision:
    verdict: str
    first_model: bool
    criteria: list[Criterion] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    decision_number: int | None = None  # within this test-set generation; None: no comparison
    alpha: float | None = None  # the superiority level spent on this decision
    detectable: list[Detectable] = field(default_factory=list)  # per compared test set


def decide(
    challenger: dict[str, Predictions],
    champion: dict[str, Predictions] | None,
    params: PromoteParams,
    earlier: int = 0,
) -> Decision:
    """``earlier``: comparisons already decided on this generation of the test sets
    (skinrisk.promotion.spending counts them from the ledger)."""
    number = earlier + 1 if champion is not None else None
    spent = number is not None and number > params.spending.max_decisions
    alpha = None if number is None or spent else params.spending.alpha(params.alpha, number)
    criteria: list[Criterion] = [_spent(params, earlier)] if spent else []
    seen: list[Detectable] = []
    for name in params.test_sets:
        mine = challenger.get(name)
        if mine is None or not len(mine):
            criteria.append(
                Criterion(
                    "evidence", name, "test set", None, None, "a non-empty test set", FAIL, n=0
                )
            )
            continue
        criteria.append(_set_evidence(name, mine, params))
        criteria += _floors(name, mine, params)
        if champion is not None and alpha is not None:
            judged, sight = compare(name, mine, champion.get(name), params, alpha, number)
            criteria += judged
            seen += [sight] if sight is not None else []
    decision = _verdict(criteria, champion is None, params, number, alpha)
    return replace(decision, detectable=seen, reasons=decision.reasons + _unseen(criteria, seen))


def _spent(params: PromoteParams, earlier: int) -> Criterion:
    """The budget of decisions on this generation of the test sets is used up: fail closed."""
    spending = params.spending
    return Criterion(
        "evidence",
        "all",
        "decisions on these test sets",
        float(earlier),
        None,
        f"fewer than spending.max_decisions {spending.max_decisions} earlier decisions: "
        f"refresh the test sets (grow each by spending.refresh_growth "
        f"{spending.refresh_growth:.0%})",
        FAIL,
    )


def _set_evidence(name: str, p: Predictions, params: PromoteParams) -> Criterion:
    minimum = params.min_n.whole_set
    short = shortfall(p.truth, p.patients, GRADES, minimum)
    patients = len(set(p.patients.tolist()))
    if short:
        return cr.insufficient(
            name,
            "evidence",
            "patients per grade",
            requirement(GRADES, minimum),
            short,
            len(p),
            patients,
        )
    return Criterion(
        "evidence",
        name,
        "patients per grade",
        None,
        None,
        requirement(GRADES, minimum),
        PASS,
        n=len(p),
        patients=patients,
    )


def _floors(name: str, p: Predictions, params: PromoteParams) -> list[Criterion]:
    aucs = {
        grade: auc_one_vs_rest(p.truth == k, p.probabilities[:, k])
        for k, grade in enumerate(GRADES)
    }
    present = [v for v in aucs.values() if np.isfinite(v)]
    figures = {
        "macro": float(np.mean(present)) if len(present) == len(GRADES) else float("nan"),
        **aucs,
    }
    out = []
    for figure, value in figures.items():
        floor = params.floors.of(figure)
        ok = bool(np.isfinite(value) and value >= floor)
        label = "macro AUC" if figure == "macro" else f"AUC {figure}"
        out.append(
            Criterion(
                "floor",
                name,
                label,
                cr.num(value),
                None,
                f">= {floor:.3f}",
                PASS if ok else FAIL,
                n=len(p),
            )
        )
    return out


def _verdict(
    criteria: list[Criterion],
    first: bool,
    params: PromoteParams,
    number: int | None,
    alpha: float | None,
) -> Decision:
    # `allow` waives a harm check that cannot be judged; never the claim of a gain: a
    # superiority without evidence is no superiority.
    blocking = [
        c
        for c in criteria
        if c.verdict == FAIL
        or (
            c.verdict == INSUFFICIENT
            and (params.insufficient_evidence == "reject" or c.kind == "superiority")
        )
    ]
    noted = [c for c in criteria if c.verdict == INSUFFICIENT and c not in blocking]
    if blocking:
        reasons = [f"not promoted: {c.sentence()}" for c in blocking]
    elif first:
        reasons = [
            "promoted: no champion yet, so nothing to compare with; it meets every "
            "absolute floor on every test set (the only test for a first model)"
        ]
    else:
        reasons = [
            "promoted: it beats the champion on the primary metric on every test set, "
            "is non-inferior on every grade, judged slice, grade within a slice and "
            "the dangerous grade's sensitivity at the champion's threshold, and meets "
            "every floor"
        ]
    if noted and not blocking:
        reasons += [
            f"allowed by policy (insufficient_evidence: allow), not judged: {c.sentence()}"
            for c in noted
        ]
    reported = [c for c in criteria if c.verdict == REPORTED]
    if reported:
        reasons.append(
            f"reported, not gated (promote.unknown_slice: report): {len(reported)} "
            f"figures of the '{UNKNOWN}' slice, shown in the table"
        )
    return Decision(REJECT if blocking else PROMOTE, first, criteria, reasons, number, alpha)


def _unseen(criteria: list[Criterion], seen: list[Detectable]) -> list[str]:
    """A failed superiority is "no evidence of a gain", never "worse": say how large a gain
    this set could have shown."""
    gains = {d.test_set: d.gain for d in seen}
    out = []
    for c in criteria:
        if c.kind == "superiority" and c.verdict == FAIL:
            gain = gains.get(c.test_set)
            size = (
                f"{gain:+.3f}, the smallest gain it detects with power {POWER}"
                if gain is not None
                else "what this set can show"
            )
            out.append(
                f"{c.test_set}: no evidence of a macro AUC gain larger than {size} at "
                "this n; that is not evidence that the challenger is worse"
            )
    return out

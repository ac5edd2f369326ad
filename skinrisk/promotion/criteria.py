"""One criterion of the gate: what was measured, the bound actually tested, the verdict.

A criterion's interval is the one its test compares with the threshold, at the level named
beside it: a one-sided lower bound (upper end None) at the spent alpha for superiority, at
``non_inferiority_alpha`` for a margin. A two-sided 95% interval beside a one-sided 5% test
would show "pass" next to an interval crossing zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skinrisk.promotion.stats import Difference

PASS, FAIL, INSUFFICIENT, REPORTED = "pass", "fail", "insufficient evidence", "reported"
# A figure is not judged when more resamples than this lack one of its classes: its bound
# would rest on the resamples that happened to keep them.
MAX_UNDEFINED = 0.01


@dataclass(frozen=True)
class Criterion:
    kind: str  # evidence | floor | superiority | non-inferiority
    test_set: str
    figure: str  # "macro AUC", "AUC dangerous, skin_type V-VI", ...
    value: float | None  # the challenger's AUC (floors) or challenger - champion
    interval: tuple[float, float | None] | None  # (lower bound, None): one-sided
    threshold: str
    verdict: str
    p_value: float | None = None
    n: int | None = None  # images
    patients: int | None = None
    alpha: float | None = None  # the one-sided level of ``interval``

    def sentence(self) -> str:
        value = (
            "n/a"
            if self.value is None
            else f"{self.value:+.4f}"
            if self.kind in ("superiority", "non-inferiority")
            else f"{self.value:.4f}"
        )
        bound = (
            f" (lower bound {self.interval[0]:+.4f}, one-sided alpha {self.alpha:g})"
            if self.interval and self.alpha is not None
            else ""
        )
        p = f", p={self.p_value:.4f}" if self.p_value is not None else ""
        n = f", n={self.n}" if self.n is not None else ""
        who = f" from {self.patients} patients" if self.patients is not None else ""
        return (
            f"{self.test_set}: {self.kind} on {self.figure}: {value}{bound}{p}{n}{who}; "
            f"needs {self.threshold} -> {self.verdict}"
        )

    def reported(self) -> Criterion:
        """The same figure shown under a report-only policy: never blocks."""
        return Criterion(**{**self.__dict__, "verdict": REPORTED})


def superiority(
    name: str,
    diff: Difference,
    alpha: float,
    min_delta: float,
    n: int,
    patients: int,
    decision: int,
) -> Criterion:
    p = diff.p_not_above(min_delta)
    low = diff.lower(alpha)
    ok = bool(np.isfinite(low) and diff.point > min_delta and low > min_delta and p < alpha)
    return Criterion(
        "superiority",
        name,
        "macro AUC",
        num(diff.point),
        (low, None),
        f"lower bound > {min_delta:+.3f} at one-sided alpha {alpha:g} "
        f"(decision {decision} on these test sets){_dropped(diff)}",
        _judged(diff, ok),
        p_value=p,
        n=n,
        patients=patients,
        alpha=alpha,
    )


def non_inferior(
    name: str, figure: str, diff: Difference, alpha: float, margin: float, n: int, patients: int
) -> Criterion:
    low = diff.lower(alpha)
    ok = bool(np.isfinite(low) and low > -margin)
    return Criterion(
        "non-inferiority",
        name,
        figure,
        num(diff.point),
        (low, None),
        f"lower bound > {-margin:+.3f}{_dropped(diff)}",
        _judged(diff, ok),
        n=n,
        patients=patients,
        alpha=alpha,
    )


def insufficient(
    name: str, kind: str, figure: str, needs: str, short: list[str], n: int, patients: int
) -> Criterion:
    return Criterion(
        kind,
        name,
        figure,
        None,
        None,
        f"{needs} (has {', '.join(short)})",
        INSUFFICIENT,
        n=n,
        patients=patients,
    )


def _judged(diff: Difference, ok: bool) -> str:
    if diff.undefined > MAX_UNDEFINED:
        return INSUFFICIENT
    return PASS if ok else FAIL


def _dropped(diff: Difference) -> str:
    return (
        f"; {diff.undefined:.0%} of resamples lack a class, more than {MAX_UNDEFINED:.0%}"
        if diff.undefined > MAX_UNDEFINED
        else ""
    )


def num(value: float | None) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None

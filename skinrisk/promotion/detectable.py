"""What the gate could see at this n: the detectable-effect line of every decision record.

A rejection must read as "no evidence of a gain larger than X", not as "worse"; a pass on a
slice must say how large a harm would have been caught. Both come from a quick simulation
calibrated on the current predictions: the paired bootstrap's draws, centred on their point
value, are the sampling noise of the difference on these images and patients (with whatever
correlation the two models' errors really have). For each candidate true effect on a grid the
simulated observation is effect + noise, and the criterion's own rule is applied to it with the
bound's own spread. Deterministic: the draws come from `promote.seed`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skinrisk.promotion.stats import Difference

POWER = 0.8  # a gain is "detectable" when the superiority test passes this often
CATCH = 0.9  # a harm is "caught" when its non-inferiority test fails this often
GRID = np.round(np.arange(0.0, 0.5005, 0.001), 3)  # effects in AUC (or sensitivity) units


@dataclass(frozen=True)
class Harm:
    figure: str  # a slice figure, e.g. "AUC dangerous, skin_type V-VI"
    diff: Difference
    alpha: float
    margin: float


@dataclass(frozen=True)
class Detectable:
    test_set: str
    gain: float | None  # smallest true macro AUC gain the superiority test finds with POWER
    # A non-inferiority test catches a harm at its margin ~97.5% of the time whatever the n;
    # what n changes is how often an unharmed challenger clears the noisiest slice figure.
    harm: float | None  # every judged slice AUC harm this large or larger fails with CATCH
    harm_figure: str | None  # the figure where the sure-to-catch harm is largest
    clear: float | None  # chance an unharmed challenger passes the noisiest slice figure
    clear_figure: str | None

    def sentence(self) -> str:
        gain = (
            f"detects a true macro AUC gain of {self.gain:+.3f} or more with power {POWER}"
            if self.gain is not None
            else f"detects no macro AUC gain up to {GRID[-1]:.1f} with power {POWER}"
        )
        if self.harm is None:
            return f"{self.test_set}: at this n the gate {gain}; it judges no slice AUC"
        return (
            f"{self.test_set}: at this n the gate {gain}; it catches a slice AUC harm of "
            f"{self.harm:.3f} or more with probability >= {CATCH} in every judged slice "
            f"(largest: {self.harm_figure}); a challenger no worse than the champion passes "
            f"the noisiest slice figure ({self.clear_figure}) with probability {self.clear:.2f}"
        )


def detectable(
    test_set: str, macro: Difference, alpha: float, min_delta: float, harms: list[Harm]
) -> Detectable:
    """``harms``: the slice AUC figures judged (gated) on this set."""
    gain = smallest_gain(macro, alpha, min_delta)
    sure = [(smallest_sure_harm(h.diff, h.alpha, h.margin), h.figure) for h in harms]
    clears = [(clearance(h.diff, h.alpha, h.margin), h.figure) for h in harms]
    if not sure or any(value is None for value, _ in sure + clears):
        return Detectable(test_set, gain, None, None, None, None)
    harm, harm_figure = max(sure)
    clear, clear_figure = min(clears)
    return Detectable(test_set, gain, harm, harm_figure, clear, clear_figure)


def smallest_gain(diff: Difference, alpha: float, min_delta: float) -> float | None:
    noise, spread = _noise(diff, alpha)
    if noise is None:
        return None
    power = np.mean(GRID[:, None] + noise[None, :] - spread > min_delta, axis=1)
    return _first(power >= POWER)


def smallest_sure_harm(diff: Difference, alpha: float, margin: float) -> float | None:
    noise, spread = _noise(diff, alpha)
    if noise is None:
        return None
    caught = np.mean(-GRID[:, None] + noise[None, :] - spread < -margin, axis=1)
    return _first(caught >= CATCH)


def clearance(diff: Difference, alpha: float, margin: float) -> float | None:
    """The chance a challenger exactly as good as the champion passes this figure."""
    noise, spread = _noise(diff, alpha)
    return None if noise is None else float(np.mean(noise - spread > -margin))


def _noise(diff: Difference, alpha: float) -> tuple[np.ndarray | None, float]:
    finite = diff.draws[np.isfinite(diff.draws)]
    if not finite.size or not np.isfinite(diff.point):
        return None, float("nan")
    return finite - diff.point, diff.point - diff.lower(alpha)


def _first(hits: np.ndarray) -> float | None:
    return float(GRID[int(np.argmax(hits))]) if hits.any() else None

"""The promotion gate's operating characteristics by simulation.

Each decision draws a held-out and a cross-ethnic set (bench/gate_model.py: ~1,100 images from
900 patients each), a champion and a challenger with known true AUCs, and runs the real
decision (skinrisk.promotion.decide) with params.yaml's `promote:` criteria, floors set to 0 so
only the comparison decides. Scenarios: equal models (independent and correlated errors), the
worst-case null (better on one set, equal on the other), a true +0.03 macro AUC (both error
models), harm on skin types V-VI (-0.05 macro; -0.10 dangerous only), and a V-VI slice whose
dangerous images come from two patients. Each decision is also re-judged, from its own
criteria, at other margins and at later decisions' spent alpha.

    .venvs/ml/bin/python -m bench.gate                    # print the tables
    .venvs/ml/bin/python -m bench.gate --out PATH         # and write them to PATH

It never rewrites docs/promotion-gate.md; its tables there are copied from a run.
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from bench.gate_model import CHAMPION_AUC, CORRELATED, Effect, SetModel, draw_pair
from bench.gate_report import render
from skinrisk.config import PromoteParams, parse_params
from skinrisk.promotion.criteria import FAIL, INSUFFICIENT, PASS, Criterion
from skinrisk.promotion.decide import PROMOTE, decide

PARAMS = Path(__file__).resolve().parents[1] / "params.yaml"
NI_MARGINS = (0.02, 0.03, 0.05, 0.075)  # per grade (whole set) and macro per slice
SLICE_GRADE_MARGINS = (0.03, 0.05, 0.075, 0.10)  # dangerous AUC inside a slice
# (whole set, slice) margins on the dangerous grade's sensitivity at the champion's threshold
SENSITIVITY_MARGINS = ((0.05, 0.10), (0.05, 0.15), (0.075, 0.15), (0.10, 0.20))
DECISIONS = (1, 2, 3, 4)  # the spent alpha of later decisions on the same test sets
GAIN = CHAMPION_AUC + 0.03
EQUAL, BETTER = Effect(), Effect((GAIN,) * 3)


@dataclass(frozen=True)
class Scenario:
    label: str
    errors: str  # "independent" | "correlated"
    heldout: SetModel
    cross_ethnic: SetModel
    wanted: str  # "refuse" | "promote"
    target: str


def scenarios() -> list[Scenario]:
    rho = CORRELATED
    slice_harm = Effect((GAIN,) * 3, (CHAMPION_AUC - 0.05,) * 3)
    grade_harm = Effect((GAIN,) * 3, (GAIN, GAIN, CHAMPION_AUC - 0.10))
    thin = SetModel(BETTER, rho, thin_dark_dangerous=True)
    return [
        Scenario("equal models", "independent", SetModel(), SetModel(), "refuse", "<= alpha"),
        Scenario(
            "equal models", "correlated", SetModel(rho=rho), SetModel(rho=rho), "refuse", "<= alpha"
        ),
        Scenario(
            "worst-case null: +0.05 held-out, equal cross-ethnic",
            "correlated",
            SetModel(Effect((CHAMPION_AUC + 0.05,) * 3), rho),
            SetModel(rho=rho),
            "refuse",
            "<= alpha",
        ),
        Scenario(
            "+0.03 macro AUC",
            "independent",
            SetModel(BETTER),
            SetModel(BETTER),
            "promote",
            "reported",
        ),
        Scenario(
            "+0.03 macro AUC",
            "correlated",
            SetModel(BETTER, rho),
            SetModel(BETTER, rho),
            "promote",
            ">= 0.8",
        ),
        Scenario(
            "slice harm: -0.05 macro on V-VI (+0.03 elsewhere)",
            "correlated",
            SetModel(slice_harm, rho),
            SetModel(slice_harm, rho),
            "refuse",
            "refused",
        ),
        Scenario(
            "grade-in-slice harm: -0.10 dangerous on V-VI (+0.03 elsewhere)",
            "correlated",
            SetModel(grade_harm, rho),
            SetModel(grade_harm, rho),
            "refuse",
            "refused >= 0.9",
        ),
        Scenario(
            "thin slice: V-VI dangerous from 2 patients (+0.03)",
            "correlated",
            thin,
            thin,
            "refuse",
            "insufficient evidence, refused",
        ),
    ]


def gate_params(resamples: int | None = None) -> PromoteParams:
    promote = parse_params(yaml.safe_load(PARAMS.read_text())).promote
    update: dict = {"floors": {"macro": 0.0, "low-risk": 0.0, "high-risk": 0.0, "dangerous": 0.0}}
    if resamples:
        update["bootstrap_resamples"] = resamples
    return PromoteParams.model_validate({**promote.model_dump(by_alias=True), **update})


def rejudge(
    criteria: list[Criterion],
    params: PromoteParams,
    margins: tuple[float, float, float, float] | None = None,
    alpha: float | None = None,
) -> bool:
    """Promoted? — the decision's own criteria at other margins (grade/slice macro AUC,
    grade-in-slice AUC, whole-set sensitivity, slice sensitivity) or superiority level."""
    for c in criteria:
        verdict = c.verdict
        if c.kind == "superiority" and alpha is not None and verdict in (PASS, FAIL):
            ok = c.value is not None and c.value > params.min_delta and c.p_value < alpha
            verdict = PASS if ok else FAIL
        elif c.kind == "non-inferiority" and margins is not None and verdict in (PASS, FAIL):
            verdict = PASS if c.interval[0] > -_margin(c.figure, margins) else FAIL
        if verdict == FAIL or (
            verdict == INSUFFICIENT and params.insufficient_evidence == "reject"
        ):
            return False
    return True


def _margin(figure: str, margins: tuple[float, float, float, float]) -> float:
    grade, in_slice, whole, slice_sensitivity = margins
    inside = "," in figure  # "AUC dangerous, skin_type V-VI"
    if figure.startswith("sensitivity"):
        return slice_sensitivity if inside else whole
    return in_slice if inside and not figure.startswith("macro") else grade


def grid(params: PromoteParams) -> list[tuple[float, float, float, float]]:
    """The margins each decision is re-judged at: every pairing of one family varied with
    the others at their params.yaml values."""
    default = (
        params.non_inferiority_margin,
        params.slice_grade_margin,
        params.sensitivity_margin,
        params.slice_sensitivity_margin,
    )
    out = {(g, s, *default[2:]) for g in NI_MARGINS for s in SLICE_GRADE_MARGINS}
    out |= {(*default[:2], *pair) for pair in SENSITIVITY_MARGINS}
    return sorted(out)


def simulate(job: tuple[Scenario, PromoteParams, int]) -> dict:
    scenario, params, seed = job
    challenger, champion = draw_pair(
        {"heldout": scenario.heldout, "cross_ethnic": scenario.cross_ethnic},
        np.random.default_rng(seed),
    )
    decision = decide(challenger, champion, params)
    promoted = decision.verdict == PROMOTE
    assert promoted == rejudge(decision.criteria, params), "rejudge drifted from decide"
    alphas = {i: params.spending.alpha(params.alpha, i) for i in DECISIONS}
    return {
        "promoted": promoted,
        "margins": {m: rejudge(decision.criteria, params, margins=m) for m in grid(params)},
        "decisions": {i: rejudge(decision.criteria, params, alpha=a) for i, a in alphas.items()},
        "thin": any(c.verdict == INSUFFICIENT and "V-VI" in c.figure for c in decision.criteria),
        "gain": [d.gain for d in decision.detectable if d.gain is not None],
    }


def run(
    decisions: int,
    resamples: int | None = None,
    jobs: int | None = None,
    only: list[int] | None = None,
) -> list[tuple[Scenario, list[dict]]]:
    params = gate_params(resamples)
    chosen = [(k, s) for k, s in enumerate(scenarios()) if only is None or k in only]
    work = [(s, params, 100_000 * k + i) for k, s in chosen for i in range(decisions)]
    with ProcessPoolExecutor(jobs or os.cpu_count()) as pool:
        outcomes = list(pool.map(simulate, work, chunksize=4))
    return [(s, outcomes[j * decisions : (j + 1) * decisions]) for j, (_, s) in enumerate(chosen)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.gate", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--decisions", type=int, default=200, help="per scenario")
    parser.add_argument(
        "--resamples", type=int, default=None, help="bootstrap resamples (default: params.yaml's)"
    )
    parser.add_argument("--jobs", type=int, default=None, help="worker processes")
    parser.add_argument("--out", type=Path, default=None, help="also write the tables here")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results = run(args.decisions, args.resamples, args.jobs)
    text = render(results, gate_params(args.resamples), time.perf_counter() - started)
    print(text)
    if args.out is not None:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""bench.gate's tables: rates with 95% Wilson intervals, the margin and spending trade-offs."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import numpy as np

from skinrisk.config import PromoteParams

Z = 1.959964


def wilson(successes: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval for a binomial proportion."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * np.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(successes: int, n: int) -> str:
    low, high = wilson(successes, n)
    return f"{successes}/{n} = {successes / n:.3f} [{low:.3f}, {high:.3f}]"


def render(results: list[tuple[Any, list[dict]]], params: PromoteParams, elapsed: float) -> str:
    n = len(results[0][1]) if results else 0
    lines = [
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d}: {n} decisions per scenario, "
        f"{params.bootstrap_resamples} bootstrap resamples, {elapsed / 60:.1f} min on "
        f"{os.cpu_count()} cores. Criteria: params.yaml `promote:` (alpha {params.alpha}, "
        f"first decision spends {params.spending.alpha(params.alpha, 1):g}; margins "
        f"{params.non_inferiority_margin} macro/grade, {params.slice_grade_margin} "
        f"{'/'.join(params.slice_grades)} in slice, {params.sensitivity_margin} sensitivity "
        f"({params.slice_sensitivity_margin} in slice); "
        "min_n in patients), floors 0.",
        "",
        "| scenario | errors | promoted (95% Wilson) | target | V-VI insufficient | "
        "median detectable gain |",
        "|---|---|---|---|---:|---:|",
    ]
    for scenario, outcomes in results:
        promoted = sum(o["promoted"] for o in outcomes)
        thin = sum(o["thin"] for o in outcomes)
        gains = [g for o in outcomes for g in o["gain"]]
        gain = f"{np.median(gains):+.3f}" if gains else ""
        lines.append(
            f"| {scenario.label} | {scenario.errors} | {rate(promoted, len(outcomes))} "
            f"| {scenario.target} | {thin}/{len(outcomes)} | {gain} |"
        )
    lines += _margins(results, params)
    decisions = _keys(results, "decisions")
    lines += [
        "",
        "Promoted at the alpha spent on later decisions on the same test sets "
        f"({params.spending.rule}):",
        "",
        "| scenario | errors | "
        + " | ".join(
            f"decision {i} (alpha {params.spending.alpha(params.alpha, i):.4g})" for i in decisions
        )
        + " |",
        "|---|---|" + "---|" * len(decisions),
    ]
    lines += _table(results, "decisions")
    return "\n".join(lines) + "\n"


def _margins(results: list[tuple[Any, list[dict]]], params: PromoteParams) -> list[str]:
    """Promoted rate per scenario at other margins: AUC margins (rows: per grade and per
    slice macro; columns: dangerous inside a slice), then the sensitivity margins."""
    keys = _keys(results, "margins")
    sens_default = (params.sensitivity_margin, params.slice_sensitivity_margin)
    auc = [k for k in keys if k[2:] == sens_default]
    rows, columns = sorted({k[0] for k in auc}), sorted({k[1] for k in auc})
    shown = [
        (s, o)
        for s, o in results
        if not s.label.startswith("thin")
        and not (s.label == "equal models" and s.errors == "independent")
    ]
    lines = [
        "",
        "Promoted at other AUC margins, each decision re-judged from its own bounds "
        f"(sensitivity margins at params' {sens_default[0]} / {sens_default[1]}). Rows: "
        "margin per grade and per slice (macro); columns: margin on the dangerous AUC "
        "inside a slice:",
        "",
        "| scenario | errors | grade/slice margin | "
        + " | ".join(f"in-slice {c}" for c in columns)
        + " |",
        "|---|---|---:|" + "---|" * len(columns),
    ]
    for scenario, outcomes in shown:
        for r in rows:
            cells = [_share(outcomes, "margins", (r, c, *sens_default)) for c in columns]
            lines.append(
                f"| {scenario.label} | {scenario.errors} | {r} | " + " | ".join(cells) + " |"
            )
    auc_default = (params.non_inferiority_margin, params.slice_grade_margin)
    sens = sorted({k[2:] for k in keys if k[:2] == auc_default})
    lines += [
        "",
        "Promoted at other sensitivity margins (whole set / inside a slice; AUC "
        f"margins at params' {auc_default[0]} / {auc_default[1]}):",
        "",
        "| scenario | errors | " + " | ".join(f"{w} / {i}" for w, i in sens) + " |",
        "|---|---|" + "---|" * len(sens),
    ]
    for scenario, outcomes in shown:
        cells = [_share(outcomes, "margins", (*auc_default, *s)) for s in sens]
        lines.append(f"| {scenario.label} | {scenario.errors} | " + " | ".join(cells) + " |")
    return lines


def _share(outcomes: list[dict], field: str, key: Any) -> str:
    k = sum(o[field][key] for o in outcomes)
    low, high = wilson(k, len(outcomes))
    return f"{k / len(outcomes):.3f} [{low:.2f}, {high:.2f}]"


def _keys(results: list[tuple[Any, list[dict]]], field: str) -> list:
    return list(results[0][1][0][field]) if results and results[0][1] else []


def _table(results: list[tuple[Any, list[dict]]], field: str) -> list[str]:
    rows = []
    for scenario, outcomes in results:
        cells = [_share(outcomes, field, key) for key in _keys(results, field)]
        rows.append(f"| {scenario.label} | {scenario.errors} | " + " | ".join(cells) + " |")
    return rows

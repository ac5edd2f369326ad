"""The decision record: JSON for machines and the audit ledger, Markdown for a reviewer."""

from __future__ import annotations

import dataclasses
from typing import Any

from skinrisk.promotion.decide import Decision


def record(decision: Decision, context: dict[str, Any]) -> dict[str, Any]:
    """``context``: models, data version and hashes, params, who triggered it, when."""
    return {
        **context,
        "verdict": decision.verdict,
        "first_model": decision.first_model,
        "decision_number": decision.decision_number,
        "alpha_spent": decision.alpha,
        "reasons": decision.reasons,
        "detectable": [
            {**dataclasses.asdict(d), "sentence": d.sentence()} for d in decision.detectable
        ],
        "criteria": [dataclasses.asdict(c) for c in decision.criteria],
    }


def markdown(rec: dict[str, Any]) -> str:
    challenger, champion = rec["challenger"], rec.get("champion")
    lines = [
        f"# Promotion decision: {rec['verdict'].upper()} — {challenger['name']} version "
        f"{challenger['version']}",
        "",
        f"- decided: {rec['decided_at']} by {rec['triggered_by']}",
        f"- challenger: version {challenger['version']} (MLflow run {challenger['run_id']}, "
        f"trained on {challenger.get('data_version', '?')})",
        "- champion: "
        + (
            f"version {champion['version']} (MLflow run {champion['run_id']}, "
            f"trained on {champion.get('data_version', '?')})"
            if champion
            else "none (first model)"
        ),
        f"- test sets: {', '.join(rec['params']['test_sets'])} of {rec['data']['version']} "
        f"(commit {rec['data']['commit'][:12]}; shards md5 {rec['data']['shards_md5']}; "
        f"split md5 {rec['data']['splits_md5']})",
        f"- applied: {rec.get('applied', 'not yet')}",
        "",
        "## Why",
        "",
        *(f"- {reason}" for reason in rec["reasons"]),
        "",
        "## What the gate could see at this n",
        "",
        *(f"- {d['sentence']}" for d in rec.get("detectable", [])),
        *(
            ["- no comparison (first model): only the floors were judged"]
            if not rec.get("detectable")
            else []
        ),
        "",
        "## Every criterion",
        "",
        "Each bound is one-sided (the lower end of the interval the test used), at the alpha "
        "beside it; n counts images, patients the people they come from.",
        "",
        "| set | kind | figure | n | patients | value | lower bound | alpha | p | needs | "
        "verdict |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|---|",
        *(_row(c) for c in rec["criteria"]),
        "",
        "## Criteria fixed in params.yaml (`promote:`)",
        "",
        _criteria(rec["params"], rec.get("decision_number"), rec.get("alpha_spent")),
        "",
    ]
    return "\n".join(lines)


def _row(c: dict[str, Any]) -> str:
    value = (
        ""
        if c["value"] is None
        else f"{c['value']:+.4f}"
        if c["kind"] in ("superiority", "non-inferiority")
        else f"{c['value']:.4f}"
    )
    cells = [
        c["test_set"],
        c["kind"],
        c["figure"],
        _cell(c["n"]),
        _cell(c["patients"]),
        value,
        f"{c['interval'][0]:+.4f}" if c["interval"] else "",
        _cell(c["alpha"]),
        "" if c["p_value"] is None else f"{c['p_value']:.4f}",
        c["threshold"],
        f"**{c['verdict']}**",
    ]
    return "| " + " | ".join(map(str, cells)) + " |"


def _cell(value: Any) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _criteria(params: dict[str, Any], number: int | None, alpha: float | None) -> str:
    spending = params["spending"]
    spent = (
        "no comparison (first model)"
        if number is None
        else f"this is decision {number} on these test sets: superiority at alpha {alpha:g}"
        if alpha is not None
        else f"decision {number}: the budget is spent"
    )
    return (
        f"primary metric {params['primary_metric']}; min_delta {params['min_delta']}; "
        f"alpha {params['alpha']} one-sided per test set (paired patient-level bootstrap, "
        f"{params['bootstrap_resamples']} resamples), spent {spending['rule']} over at most "
        f"{spending['max_decisions']} decisions per test-set generation ({spent}); "
        f"non-inferiority at one-sided alpha {params['non_inferiority_alpha']}: margin "
        f"{params['non_inferiority_margin']} per grade and slice, "
        f"{params['slice_grade_margin']} for {', '.join(params['slice_grades'])} inside "
        f"each slice, {params['sensitivity_margin']} on the dangerous grade's sensitivity "
        f"at the champion's Youden threshold ({params['slice_sensitivity_margin']} inside a "
        f"slice); slices {', '.join(params['slices'])}; min_n "
        f"in patients {params['min_n']}; insufficient evidence: "
        f"{params['insufficient_evidence']}; unknown slice: {params['unknown_slice']}; "
        f"floors {params['floors']}."
    )

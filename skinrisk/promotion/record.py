"""The decision record: JSON for machines and the audit ledger, Markdown for a reviewer."""

from __future__ import annotations

import dataclasses
from typing import Any

from skinrisk.promotion.decide import Decision


def record(decision: Decision, context: dict[str, Any]) -> dict[str, Any]:
    """``context``: models, data version and hashes, params, who triggered it, when."""
    return {**context, "verdict": decision.verdict, "first_model": decision.first_model,
            "reasons": decision.reasons,
            "criteria": [dataclasses.asdict(c) for c in decision.criteria]}


def markdown(rec: dict[str, Any]) -> str:
    challenger, champion = rec["challenger"], rec.get("champion")
    lines = [
        f"# Promotion decision: {rec['verdict'].upper()} — {challenger['name']} version "
        f"{challenger['version']}",
        "",
        f"- decided: {rec['decided_at']} by {rec['triggered_by']}",
        f"- challenger: version {challenger['version']} (MLflow run {challenger['run_id']}, "
        f"trained on {challenger.get('data_version', '?')})",
        "- champion: " + (f"version {champion['version']} (MLflow run {champion['run_id']}, "
                          f"trained on {champion.get('data_version', '?')})"
                          if champion else "none (first model)"),
        f"- test sets: {', '.join(rec['params']['test_sets'])} of {rec['data']['version']} "
        f"(commit {rec['data']['commit'][:12]}; shards md5 {rec['data']['shards_md5']}; "
        f"split md5 {rec['data']['splits_md5']})",
        f"- applied: {rec.get('applied', 'not yet')}",
        "",
        "## Why",
        "",
        *(f"- {reason}" for reason in rec["reasons"]),
        "",
        "## Every criterion",
        "",
        "| set | kind | figure | n | value | interval | p | needs | verdict |",
        "|---|---|---|---:|---:|---|---:|---|---|",
    ]
    for c in rec["criteria"]:
        interval = (f"[{c['interval'][0]:+.4f}, {c['interval'][1]:+.4f}]"
                    if c["interval"] and None not in c["interval"] else "")
        value = "" if c["value"] is None else f"{c['value']:+.4f}" if c["kind"] in (
            "superiority", "non-inferiority") else f"{c['value']:.4f}"
        p = "" if c["p_value"] is None else f"{c['p_value']:.4f}"
        n = "" if c["n"] is None else c["n"]
        lines.append(f"| {c['test_set']} | {c['kind']} | {c['figure']} | {n} | "
                     f"{value} | {interval} | {p} | {c['threshold']} | **{c['verdict']}** |")
    params = rec["params"]
    lines += ["", "## Criteria fixed in params.yaml (`promote:`)", "",
              f"primary metric {params['primary_metric']}; min_delta {params['min_delta']}; "
              f"alpha {params['alpha']} (one-sided, paired patient-level bootstrap, "
              f"{params['bootstrap_resamples']} resamples); non-inferiority margin "
              f"{params['non_inferiority_margin']} on the {params['confidence']:.0%} interval's "
              f"lower bound; slices {', '.join(params['slices'])}, min_n {params['min_n']}, "
              f"insufficient evidence: {params['insufficient_evidence']}; floors "
              f"{params['floors']}.", ""]
    return "\n".join(lines)

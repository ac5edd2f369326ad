"""The validation report a person reads: one Markdown page per batch.

It shows what the verdict holds (feature names, anomaly types, counts, schema-listed slice
values), never a value a hospital sent.
"""

from __future__ import annotations

from typing import Any

from skinrisk.validation.tfdv_check import Verdict


def render_report(verdict: Verdict, ingest: dict[str, Any], quality_reasons: dict[str, int]
                  ) -> str:
    lines = [
        f"# Validation of batch {verdict.batch_id}: **{verdict.status}**", "",
        "## Counts", "",
        f"- received: {ingest.get('files_in', '?')} files; ingest accepted "
        f"{ingest.get('accepted', '?')}, quarantined {ingest.get('quarantined_files', '?')} "
        f"({_reasons(ingest.get('by_reason', {}))})",
        f"- quality: {sum(quality_reasons.values())} reason(s) on the batch's images "
        f"({_reasons(quality_reasons)})",
        f"- validated: {verdict.rows} curated images; baseline: "
        + (f"{verdict.baseline_rows} images of earlier batches" if verdict.baseline_rows
           else "**no baseline** (first batch): drift not measured, schema checked"),
        "", "## Anomalies", "",
    ]
    anomalies = [f for f in verdict.findings if f.kind != "missing"]
    if anomalies:
        lines += ["| feature | kind | description |", "|---|---|---|"]
        lines += [f"| {f.feature} | {f.kind} | {f.description} |" for f in anomalies]
    else:
        lines.append("None.")
    lines += ["", "## Drift against the baseline", ""]
    lines += [f"- {f.feature}: {f.description}" for f in verdict.findings
              if f.kind == "missing"]
    if verdict.drift:
        lines += ["| feature | measure | value | threshold | |", "|---|---|---:|---:|---|"]
        lines += [f"| {d.feature} | {d.measure} | {d.value:.4f} | {d.threshold:.4f} | "
                  f"{'above' if d.value > d.threshold else 'ok'} |" for d in verdict.drift]
    else:
        lines.append("Not measured (no baseline)." if not verdict.baseline_rows else "None.")
    lines += ["", "## Slices", "", "| slice | images |", "|---|---:|"]
    lines += [f"| {name} | {n} |" for name, n in verdict.slices.items()]
    lines += ["", _files_note(verdict), ""]
    return "\n".join(lines)


def _files_note(verdict: Verdict) -> str:
    if any(f.kind == "error" for f in verdict.findings):
        return (f"No TFDV files for this batch: its statistics could not be computed (see "
                f"Anomalies). Once fixed: `skinrisk validate --batch {verdict.batch_id}`.")
    if not verdict.rows:
        return "No TFDV files for this batch: it has no curated image."
    return ("TFDV's own files beside this report: `statistics.tfrecord` (statistics, all "
            "slices), `anomalies.pbtxt` (descriptions quoting data values left out).")


def _reasons(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"

"""`skinrisk validate`: each new curated batch against the schema, and for drift."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from pipelines.common import PARAMS_OPTION, load_params, out, run_app, working
from skinrisk import ledger
from skinrisk.catalog import CURATED_MANIFEST, QUALITY_QUARANTINE, VALIDATION
from skinrisk.config import ValidateParams
from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout, project_root
from skinrisk.ledger import Event
from skinrisk.localfs import atomic_write, write_json
from skinrisk.records.locks import named_lock
from skinrisk.storage.rawzone import RawZone
from skinrisk.storage.tables import read_rows
from skinrisk.validation.features import validation_rows
from skinrisk.validation.report import render_report
from skinrisk.validation.tfdv_check import Verdict, validate_rows
from skinrisk.versioning.session import data_session

VERDICT = "verdict.json"


def command(
    batch: Annotated[list[str] | None, typer.Option(help="Validate these batches again "
                     "(repeatable).", show_default="every curated batch without a verdict")] = None,
    params_path: Path = PARAMS_OPTION,
) -> int:
    """Validate new batches with TFDV; exit 1 if a batch fails."""
    params = load_params(params_path).validation
    layout = StateLayout.from_env()
    with data_session(layout, "validate"):
        return _validate(layout, params, batch)


def _validate(layout: StateLayout, params: ValidateParams, batch: list[str] | None) -> int:
    schema = (project_root() or Path.cwd()) / params.schema_path
    if not schema.is_file():
        raise SkinriskError(f"schema {schema} not found (params.yaml validate.schema_path)")
    if not (layout.workspace / CURATED_MANIFEST).is_file():
        raise SkinriskError("no curated dataset yet: run `skinrisk quality` first")
    rows = read_rows(layout.workspace / CURATED_MANIFEST)
    quality = Counter((q["batch_id"], r) for q in read_rows(layout.workspace / QUALITY_QUARANTINE)
                      for r in q["reasons"].split(";"))
    raw = RawZone(layout.raw, layout.quarantine)
    order = raw.batches_in_ingest_order()
    root = layout.workspace / VALIDATION
    verdicts: list[Verdict] = []
    with named_lock(layout, "validate"):
        recorded = {e["data"]["batch_id"] for e in ledger.read(layout)
                    if e["event"] == Event.VALIDATION}
        baseline: list[dict[str, Any]] = []
        for batch_id in order:
            mine = [r for r in rows if r["batch_id"] == batch_id]
            previous = root / batch_id / VERDICT
            if previous.is_file() and batch_id not in (batch or []):
                status = json.loads(previous.read_text())["status"]
                if batch_id not in recorded:  # a run killed between its verdict and its event
                    _record(layout, json.loads(previous.read_text()))
            else:
                with working(f"validate {batch_id}: TFDV statistics, schema, drift "
                             f"({len(mine)} images)"):
                    verdict = validate_rows(batch_id, validation_rows(mine),
                                            validation_rows(baseline), schema, params,
                                            root / batch_id)
                reasons = {r: n for (b, r), n in quality.items() if b == batch_id}
                atomic_write(root / batch_id / "report.md", render_report(
                    verdict, raw.report(batch_id) or {}, reasons).encode())
                write_json(previous, asdict(verdict))
                _record(layout, asdict(verdict))
                verdicts.append(verdict)
                status = verdict.status
            if status != "failed":  # a failed batch is no one's baseline
                baseline += mine
    out.print(_summary(verdicts, root))
    for finding in (f for v in verdicts for f in v.findings if f.kind == "error"):
        out.print(f"[red]validate:[/] {escape(finding.description)}", highlight=False)
    return 1 if any(v.status == "failed" for v in verdicts) else 0


def _record(layout: StateLayout, verdict: dict[str, Any]) -> None:
    """The verdict's ledger event (``verdict``: as verdict.json holds it); counts and feature
    names only, never a finding's text."""
    ledger.record(layout, Event.VALIDATION, {
        "batch_id": verdict["batch_id"], "status": verdict["status"], "rows": verdict["rows"],
        "baseline_rows": verdict["baseline_rows"],
        "anomalies": sum(f["kind"] == "schema" for f in verdict["findings"]),
        "errors": sum(f["kind"] == "error" for f in verdict["findings"]),
        "drift_above": [d["feature"] for d in verdict["drift"] if d["value"] > d["threshold"]]})


def _summary(verdicts: list[Verdict], root: Path) -> Table:
    table = Table(title=f"validate ({len(verdicts)} batch(es) this run) — reports in {root}")
    for column in ("batch", "status", "images", "baseline", "anomalies", "drift above"):
        table.add_column(column)
    for v in verdicts:
        table.add_row(v.batch_id, v.status, str(v.rows), str(v.baseline_rows or "none"),
                      str(sum(f.kind == "schema" for f in v.findings)),
                      ", ".join(d.feature for d in v.drift if d.value > d.threshold) or "—")
    return table


def main(argv: list[str] | None = None) -> int:
    return run_app(command, argv, prog_name="skinrisk validate")


if __name__ == "__main__":
    raise SystemExit(main())

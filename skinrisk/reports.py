"""Per-run reports of the retrain and ingest DAGs: what ran, what was decided, what failed.

Failures are appended by the DAGs' on-failure callback (one JSON line per failed try, written
with O_APPEND so concurrent tasks never interleave; a worker whose disk is emptied after each
task (SKINRISK_WORKSPACE=clone) also writes one object per failed try under the working
prefix's reports/<dag>/<run>/failures/, where the report, on another worker, reads them);
`skinrisk report` gathers them with the run's training, evaluation and decision records into
one JSON and one Markdown file.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import uuid
from pathlib import Path
from typing import Any

from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout
from skinrisk.ledger import Event
from skinrisk.localfs import json_bytes
from skinrisk.promotion.kept import decision_records
from skinrisk.storage.objects import open_store

log = logging.getLogger(__name__)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def run_folder(layout: StateLayout, dag_id: str, run_id: str) -> Path:
    return layout.reports / _safe(dag_id) / _safe(run_id)


def append_failure(layout: StateLayout, dag_id: str, run_id: str, task_id: str,
                   try_number: int | None, error: str) -> Path:
    """Record a failed try here and, with a working prefix, there too: the callback runs on the
    worker that ran the task, which may not be the one that writes the report."""
    folder = run_folder(layout, dag_id, run_id)
    folder.mkdir(parents=True, exist_ok=True)
    entry = {"at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "task_id": task_id,
             "try_number": try_number, "error": error[-2000:]}
    path = folder / "failures.jsonl"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (json.dumps(entry) + "\n").encode())
    finally:
        os.close(fd)
    if layout.clones:  # a disk of its own, emptied after the task: the report is elsewhere
        key = f"{_failures_prefix(dag_id, run_id)}{_safe(task_id)}-{try_number}-{uuid.uuid4().hex}"
        try:
            open_store(layout.work_url).put_if_absent(f"{key}.json", json.dumps(entry).encode())
        except (SkinriskError, OSError) as exc:  # a failure callback must not fail itself
            log.warning("failure of %s not copied to the working prefix: %s", task_id, exc)
    return path


def failures(layout: StateLayout, dag_id: str, run_id: str
             ) -> tuple[list[dict[str, Any]], str | None]:
    """The run's failed tries, from this disk and the working prefix, once each, by time; and
    why the working prefix's could not be read, if they could not (the report says so)."""
    path = run_folder(layout, dag_id, run_id) / "failures.jsonl"
    found = [json.loads(line) for line in path.read_text().splitlines()
             if line.strip()] if path.is_file() else []
    unreadable = None
    if layout.work_url:
        try:
            store = open_store(layout.work_url)
            found += [json.loads(store.get(key))
                      for key in store.list(_failures_prefix(dag_id, run_id))]
        except (SkinriskError, OSError) as exc:
            unreadable = f"failed tries of the GPU worker unreadable: {exc}"
    unique = {(f["at"], f["task_id"], f["try_number"]): f for f in found}
    return sorted(unique.values(), key=lambda f: (f["at"], f["task_id"])), unreadable


def keep_report(layout: StateLayout, dag_id: str, run_id: str, report: dict[str, Any]) -> None:
    """With SKINRISK_WORKSPACE=clone, the report on the working prefix as well: the folder is
    emptied after the task. Each try its own keys (write-once), named by its time."""
    if not (layout.clones and layout.work_url):
        return
    store = open_store(layout.work_url)
    stamp = re.sub(r"[^0-9TZ]", "", report["written_at"].replace("+00:00", "Z"))
    base = f"reports/{_safe(dag_id)}/{_safe(run_id)}/{stamp}-{uuid.uuid4().hex[:8]}-report"
    store.put_if_absent(f"{base}.json", json_bytes(report))
    store.put_if_absent(f"{base}.md", render(report).encode())


def kept_report(layout: StateLayout, dag_id: str, run_id: str) -> dict[str, Any] | None:
    """The newest report of a run on the working prefix (None: none there)."""
    store = open_store(layout.work_url or "")
    keys = [k for k in store.list(f"reports/{_safe(dag_id)}/{_safe(run_id)}/")
            if k.endswith("-report.json")]
    return json.loads(store.get(max(keys))) if keys else None


def _failures_prefix(dag_id: str, run_id: str) -> str:
    return f"reports/{_safe(dag_id)}/{_safe(run_id)}/failures/"


def decisions_of_run(layout: StateLayout, run_id: str) -> list[dict[str, Any]]:
    """Decision records whose trigger names this Airflow run, with what was applied (a record
    is written before its alias move, which the ledger records as `alias_moved`)."""
    from skinrisk.ledger import read

    moved = {e["data"]["decision_id"]: e["data"]["applied"]
             for e in read(layout) if e["event"] == Event.ALIAS_MOVED}
    out = []
    for record in decision_records(layout):
        if f"airflow.run_id={run_id}" in record.get("triggered_by", ""):
            out.append({**record, "applied": moved.get(record["decision_id"],
                                                       record.get("applied"))})
    return out


def render(report: dict[str, Any]) -> str:
    lines = [f"# {report['dag_id']} — run {report['run_id']}", "",
             f"- written: {report['written_at']}", f"- outcome: **{report['outcome']}**"]
    if report.get("retrain_check"):
        lines.append(f"- retrain check: {report['retrain_check'].get('why')}")
    t, evaluation = report.get("train") or {}, report.get("evaluation") or {}
    if "unavailable" in t:
        lines.append(f"- trained: run key {t.get('run_key')}, record unavailable: "
                     f"{t['unavailable']}")
    elif t:
        auc = t.get("best_val_macro_auc")
        shown = "not computable" if auc is None else f"{auc:.3f}"
        lines.append(f"- trained: MLflow run {t['run_id']} on {t['data_version']} (best epoch "
                     f"{t['best_epoch'] + 1}, MLflow step {t['best_epoch']}; validation macro "
                     f"AUC {shown})")
    if "unavailable" in evaluation:
        lines.append(f"- evaluation unavailable: {evaluation['unavailable']}")
    else:
        for name, figures in evaluation.items():
            lines.append(f"- {name}: n={figures.get('n')}, macro AUC {figures.get('macro_auc')}")
    for d in report.get("decisions", []):
        lines.append(f"- decision {d['decision_id']}: **{d['verdict']}** — {d['applied']}")
        lines += [f"  - {r}" for r in d["reasons"]]
    if report.get("failures_unreadable"):
        lines.append(f"- INCOMPLETE: {report['failures_unreadable']}")
    for f in report.get("failures", []):
        lines.append(f"- FAILED {f['task_id']} (try {f['try_number']}) at {f['at']}: "
                     f"{f['error'].splitlines()[-1] if f['error'] else ''}")
    return "\n".join(lines) + "\n"

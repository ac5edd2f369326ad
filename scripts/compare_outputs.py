"""Compare two SKINRISK_HOME folders that ran the same path from two revisions (see
scripts/compare-outputs). Prints each difference; exit 0 when the outputs are the same.

Masked, because they differ between any two runs: MLflow run ids and model URIs, times and
decision ids (which start with a time), the code commit and what is derived from it (the run
key; the ledger's hash chain and record digests, which cover those values), and where the
state lives. Everything else is compared exactly: the data files byte for byte, the Parquet
tables by content, every prediction, the reports, the decision record, the ledger's events.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

VOLATILE_KEYS = {
    "run_id", "model_uri", "model_run", "code.commit", "code.dirty", "code_commit", "code_dirty",
    "run_key", "decision_id", "decided_at", "at", "by", "triggered_by", "hash", "prev_hash",
    "record_sha256", "report_sha256", "seq", "started_at", "finished_at", "created_at",
    "environment_locks", "ledger_sha256", "received_at", "ingested_at",
}
# Values of any key: run ids, timestamps, temporary paths.
VOLATILE_TEXT = [
    (re.compile(r"\b[0-9a-f]{32}\b"), "<mlflow-id>"),
    (re.compile(r"\d{8}T\d{6}Z"), "<time>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?"), "<time>"),
    (re.compile(r"/tmp/compare-outputs-[^/\s\"']+/[ab]"), "<home>"),
    (re.compile(r"\bm-[0-9a-f]{32}\b"), "<model-id>"),
]
# Under SKINRISK_HOME: the data repository (data, models, metrics), what was refused, the gate's
# records, the audit's.
FOLDERS = ("workspace", "quarantine", "decisions", "audits")
# Files that embed a time or a random id in their bytes by design.
SKIP_BYTES = {".keras", ".db", ".db-journal", ".lock", ".log", ".png", ".html", ".md"}


def masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "<masked>" if k in VOLATILE_KEYS else masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    if isinstance(value, str):
        for pattern, replacement in VOLATILE_TEXT:
            value = pattern.sub(replacement, value)
    return value


def table(path: Path) -> Any:
    import pyarrow.parquet as pq

    return masked(pq.read_table(path).to_pylist())


def ledger(home: Path) -> list[Any]:
    lines = (home / "ledger" / "ledger.jsonl").read_text().splitlines()
    return [masked({"event": e["event"], "data": e["data"]}) for e in map(json.loads, lines)]


def files(home: Path, folder: str) -> dict[str, Path]:
    base = home / folder
    return {str(p.relative_to(base)): p for p in sorted(base.rglob("*"))
            if p.is_file() and ".git" not in p.parts and ".dvc" not in p.parts}


def compare(a: Path, b: Path) -> list[str]:
    out: list[str] = []
    for folder in FOLDERS:
        left, right = files(a, folder), files(b, folder)
        if set(left) != set(right):
            out.append(f"{folder}: only in a {sorted(set(left) - set(right))[:5]}, only in b "
                       f"{sorted(set(right) - set(left))[:5]}")
        for name in sorted(set(left) & set(right)):
            out.extend(_same(f"{folder}/{name}", left[name], right[name]))
    if ledger(a) != ledger(b):
        out.append(f"ledger: events differ\n  a: {ledger(a)}\n  b: {ledger(b)}")
    return out


def _same(name: str, a: Path, b: Path) -> list[str]:
    if a.suffix == ".parquet":
        return [] if table(a) == table(b) else [f"{name}: tables differ"]
    if a.suffix == ".json":
        left, right = masked(json.loads(a.read_text())), masked(json.loads(b.read_text()))
        return [] if left == right else [f"{name}: differs\n  a: {left}\n  b: {right}"]
    if a.suffix in SKIP_BYTES or a.name.startswith("."):
        return []
    same = hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    return [] if same else [f"{name}: bytes differ"]


def main(argv: list[str]) -> int:
    a, b = Path(argv[0]), Path(argv[1])
    differences = compare(a, b)
    for line in differences:
        print(line)
    checked = sum(len(files(a, f)) for f in FOLDERS)
    print(f"compare-outputs: {checked} files and {len(ledger(a))} ledger events compared; "
          f"{len(differences)} difference(s)")
    return 1 if differences else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

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
    # MLflow's ids, times and who ran it
    "run_id", "model_uri", "model_run", "decision_id", "decided_at", "at", "by", "triggered_by",
    "started_at", "ended_at", "finished_at", "created_at", "registered_at", "generated_at",
    "received_at", "ingested_at", "gate.decision",
    # the code commit, what hashes it (run key), and the data repository's commits (it holds
    # the checkout's files beside the data, so its commits differ with the code)
    "code.commit", "code.dirty", "code_commit", "code_dirty", "run_key", "commit",
    "data_commit", "environment_locks", "uncommitted_changes",
    # the ledger's chain and digests of records that hold the values above
    "hash", "prev_hash", "seq", "record_sha256", "report_sha256", "ledger_sha256",
}
VOLATILE_TEXT = [
    (re.compile(r"runs:/[0-9a-f]{32}"), "runs:/<run>"),
    (re.compile(r"\bm-[0-9a-f]{32}\b"), "<logged-model>"),
    (re.compile(r"\d{8}T\d{6}Z"), "<time>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?"), "<time>"),
    (re.compile(r"/tmp/compare-outputs-[^/\s\"']+/[ab]"), "<home>"),
]
# Under SKINRISK_HOME: the data (raw, curated, splits, shards), the model's record and the
# evaluation, what was refused, the gate's records (in time order), the audit's.
FOLDERS = ("workspace/data", "workspace/models", "workspace/metrics", "quarantine",
           "decisions", "audits")
# Files that embed a time or a random id in their bytes by design.
# (.dvc: a raw batch's pointer, its hash covers the ingest time.)
SKIP_BYTES = {".keras", ".png", ".html", ".md", ".dvc"}


# Data whose files hold the ingest time (a raw batch's report, the curated manifest's rows):
# their DVC hashes differ with it. The files themselves are compared, the time masked.
TIMED_DATA = re.compile(r"^data/raw/[^/]+$|^data/curated/manifest\.parquet$")
# An audit check whose detail is the code commit, or the digest of a record holding a run id.
VOLATILE_CHECKS = re.compile(r"^code commit|sha256")


def masked(value: Any) -> Any:
    if isinstance(value, dict):
        if VOLATILE_CHECKS.search(str(value.get("what", ""))) and "detail" in value:
            value = {**value, "detail": "<masked>"}
        return {k: "<masked>" if k in VOLATILE_KEYS or TIMED_DATA.match(k) else masked(v)
                for k, v in value.items()}
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
        if folder == "decisions":  # named by the time of the decision: pair them in order
            left, right = dict(enumerate(left.values())), dict(enumerate(right.values()))
        if set(left) != set(right):
            out.append(f"{folder}: only in a {sorted(set(left) - set(right))[:5]}, only in b "
                       f"{sorted(set(right) - set(left))[:5]}")
        for name in sorted(set(left) & set(right), key=str):
            out.extend(_same(f"{folder}/{name}", left[name], right[name]))
    out.extend(diff("ledger", ledger(a), ledger(b)))
    return out


def diff(where: str, a: Any, b: Any) -> list[str]:
    """Where two JSON values differ, by path."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [line for k in sorted(set(a) | set(b), key=str)
                for line in diff(f"{where}.{k}", a.get(k, "<absent>"), b.get(k, "<absent>"))]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [line for i, (x, y) in enumerate(zip(a, b, strict=True))
                for line in diff(f"{where}[{i}]", x, y)]
    return [] if a == b else [f"{where}: {str(a)[:160]} != {str(b)[:160]}"]


def _same(name: str, a: Path, b: Path) -> list[str]:
    if a.suffix == ".parquet":
        return diff(name, table(a), table(b))
    if a.suffix == ".json":
        left, right = masked(json.loads(a.read_text())), masked(json.loads(b.read_text()))
        return diff(name, left, right)
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

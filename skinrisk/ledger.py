"""The audit ledger: append-only JSON lines, each entry carrying the hash of the one before.

An entry is {"seq", "at", "event", "by", "data", "prev", "hash"}; "hash" is the sha256 of the
entry's canonical JSON without "hash", and "prev" is the previous entry's hash (64 zeros for the
first). Editing an entry breaks its hash; deleting, inserting or reordering breaks the next
entry's "prev" or the sequence. Appends hold a lock and go through O_APPEND with fsync, so two
processes never interleave or lose an entry. Entries carry counts, hashes, versions and ids of
runs and models — never a patient identifier.

Where SKINRISK_DATABASE_URL is set the entries are rows of PostgreSQL's ledger.entries instead
(skinrisk.records.ledger), appended under a transaction-scoped advisory lock: the same fields,
the same hash, and read back as the same JSON lines, so verification and the archive do not
care which backend wrote an entry. The functions that take a layout choose the backend.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout
from skinrisk.localfs import exclusive_lock

GENESIS = "0" * 64
FILE = "ledger.jsonl"


class Event(StrEnum):
    """Every kind of ledger entry; the value is what the entry's "event" field holds."""

    BATCH_INGESTED = "batch_ingested"  # a batch committed to the raw zone: counts, reasons
    BATCH_REFUSED = "batch_refused"  # a whole batch refused (format, marker, a changed resend)
    QUALITY = "quality"  # the curated dataset: images in, kept, dropped, per check
    QUALITY_OVERRIDE = "quality_override"  # a reviewer's decision on one image
    VALIDATION = "validation"  # TFDV's verdict on a batch: anomalies, drift
    DATASET_VERSION = "dataset_version"  # a DVC data version: tag, commit, hashes
    TRAINING_RUN = "training_run"  # a training: MLflow run, run key, data version, images
    EVALUATION = "evaluation"  # a model graded on the held-out and cross-ethnic sets
    EXTERNAL_EVALUATION = "external_evaluation"  # a model graded on an outside test set
    GATE_DECISION = "gate_decision"  # the promotion gate's verdict, and whether it applied
    ALIAS_MOVED = "alias_moved"  # the champion alias moved in the MLflow registry
    ROLLBACK = "rollback"  # the champion put back to an earlier version by hand


def ledger_path(layout: StateLayout) -> Path:
    return layout.ledger / FILE


def _digest(entry: dict[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _last_line(path: Path) -> str | None:
    if not path.is_file() or path.stat().st_size == 0:
        return None
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        position = handle.tell()
        chunk = b""
        while position > 0 and chunk.count(b"\n") < 2:
            step = min(4096, position)
            position -= step
            handle.seek(position)
            chunk = handle.read(step) + chunk
    lines = [line for line in chunk.split(b"\n") if line.strip()]
    return lines[-1].decode() if lines else None


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def next_entry(previous: dict[str, Any] | None, event: str, data: dict[str, Any],
               by: str) -> dict[str, Any]:
    """The entry that follows ``previous`` (None: the first), hash included."""
    entry = {"seq": previous["seq"] + 1 if previous else 1, "at": _now(),
             "event": event, "by": by, "data": data,
             "prev": previous["hash"] if previous else GENESIS}
    entry["hash"] = _digest(entry)
    return entry


def entry_line(entry: dict[str, Any]) -> bytes:
    """An entry as its ledger line, newline included."""
    return (json.dumps(entry, sort_keys=True, ensure_ascii=True) + "\n").encode()


def _database(layout: StateLayout) -> str | None:
    from skinrisk.records import database_url, refuse_embedded_leftover

    url = database_url()
    if url:
        refuse_embedded_leftover(ledger_path(layout), "ledger")
    return url


def append(layout: StateLayout, event: str, data: dict[str, Any], by: str) -> dict[str, Any]:
    """Append one event; returns the entry written."""
    url = _database(layout)
    if url:
        from skinrisk.records.ledger import append_entry

        return append_entry(url, event, data, by)
    path = ledger_path(layout)
    path.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(layout.locks / "ledger.lock"):
        last = _last_line(path)
        entry = next_entry(json.loads(last) if last else None, event, data, by)
        line = entry_line(entry)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        size = os.fstat(fd).st_size
        try:
            written = 0
            while written < len(line):  # a short write (a disk filling) is continued...
                written += os.write(fd, line[written:])
            os.fsync(fd)
        except OSError:
            os.ftruncate(fd, size)  # ...or undone: never a half line that blocks the chain
            raise
        finally:
            os.close(fd)
    return entry


def read(layout: StateLayout) -> Iterator[dict[str, Any]]:
    """Every entry of this installation's ledger, oldest first."""
    url = _database(layout)
    if url:
        from skinrisk.records.ledger import read_entries

        return read_entries(url)
    return entries(ledger_path(layout))


def lines(layout: StateLayout) -> list[bytes]:
    """The ledger as its JSON lines (what the archive copies), read under the appenders' lock:
    never a line an appender is half-way through."""
    url = _database(layout)
    if url:
        from skinrisk.records.ledger import read_entries

        return [entry_line(entry) for entry in read_entries(url)]
    path = ledger_path(layout)
    if not path.is_file():
        return []
    with exclusive_lock(layout.locks / "ledger.lock"):
        return path.read_bytes().splitlines(keepends=True)


def describe(layout: StateLayout) -> str:
    """Where the ledger is, for messages."""
    url = _database(layout)
    if url:
        from skinrisk.records.connection import describe as where

        return f"ledger.entries in {where(url)}"
    return str(ledger_path(layout))


def entries(path: Path) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        return
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.strip():
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                raise SkinriskError(f"{path} line {number}: not JSON (truncated or edited)"
                                    ) from None


@dataclass(frozen=True)
class Verdict:
    ok: bool
    entries: int
    first_bad: int | None = None  # 1-based line number
    why: str = ""


def verify(path: Path) -> Verdict:
    """Walk the chain of a ledger file; name the first entry that does not follow."""
    return verify_entries(entries(path))


def check(layout: StateLayout) -> Verdict:
    """verify() on this installation's ledger, whichever backend holds it."""
    return verify_entries(read(layout))


def verify_entries(chain: Iterable[dict[str, Any]]) -> Verdict:
    """Walk the chain; name the first entry that does not follow from the one before."""
    previous_hash, expected_seq, count = GENESIS, 1, 0
    try:
        for count, entry in enumerate(chain, start=1):
            if entry.get("hash") != _digest(entry):
                return Verdict(False, count, count, "its content does not match its hash "
                               "(edited)")
            if entry.get("prev") != previous_hash:
                return Verdict(False, count, count, "it does not follow the entry before it "
                               "(an entry was deleted, inserted or reordered)")
            if entry.get("seq") != expected_seq:
                return Verdict(False, count, count, f"sequence {entry.get('seq')} where "
                               f"{expected_seq} was expected")
            previous_hash, expected_seq = entry["hash"], expected_seq + 1
    except SkinriskError as exc:
        return Verdict(False, count + 1, count + 1, str(exc))
    return Verdict(True, count)


def trigger() -> str:
    """Who or what caused an event: the Airflow dag/run/task, or the user."""
    from skinrisk.tracking import context_tags

    return ", ".join(f"{k}={v}" for k, v in context_tags().items())


def recorded(layout: StateLayout, event: Event, key: str, value: Any) -> bool:
    """Whether an ``event`` whose data[key] is ``value`` is in the ledger: stages that must
    write an event once (a rerun after a kill between the work and its event) ask this."""
    return any(e["event"] == event and e["data"].get(key) == value for e in read(layout))


def record(layout: StateLayout, event: Event, data: dict[str, Any]) -> dict[str, Any]:
    return append(layout, event, data, trigger())

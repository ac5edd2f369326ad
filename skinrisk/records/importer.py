"""Carry an embedded installation's records into PostgreSQL: the switch to the production store.

The identity map (private/identity.sqlite) and the ledger (ledger/ledger.jsonl) are copied as
they are: every surrogate, file record and store secret unchanged (a patient keeps their
surrogate, so the splits drawn on it do not move, and device tokens stay), every ledger entry
with its seq, time, data and hash (the chain, and the copies already archived, still verify).
Rerunnable: what the database holds already is skipped when it is the same, and a difference
(the database mapped a patient otherwise, or has another ledger) stops the import naming the
table, never a value. Only when both are in does each file get renamed to ``*.imported`` beside
itself (kept, never deleted: it is the evidence of what was carried over), which lifts
refuse_embedded_leftover's stop.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skinrisk.errors import SkinriskError
from skinrisk.records.connection import connect, describe

IMPORTED = ".imported"
# table -> (its natural key, the columns that must agree where the key is found)
_TABLES = {
    "patients": (("source", "source_key"), ("surrogate",)),
    "lesions": (("source", "patient_key", "lesion_key"), ("surrogate",)),
    "secrets": (("name",), ("value",)),
    "files": (("batch_id", "file_name"), ("line", "received_sha256", "outcome", "image_id",
                                          "quarantine_id", "reason", "kind", "signature")),
}


@dataclass
class Imported:
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows carried over now
    entries: int = 0  # ledger entries carried over now
    kept: list[Path] = field(default_factory=list)  # the embedded files, renamed


def import_embedded(url: str, identity: Path, ledger_file: Path) -> Imported:
    """Copy whichever of the two embedded stores exist; rename them once both are in."""
    done = Imported()
    if identity.is_file():
        done.rows = _import_identity(url, identity)
    if ledger_file.is_file():
        done.entries = _import_ledger(url, ledger_file)
    for path in (identity, ledger_file):
        for part in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm"))):
            if part.is_file():
                target = part.with_name(part.name + IMPORTED)
                part.rename(target)
                done.kept.append(target)
    return done


def _sqlite_rows(identity: Path, table: str, columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(f"file:{identity}?mode=ro", uri=True)
    try:
        have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        select = ", ".join(c if c in have else "NULL" for c in columns)  # an older store
        return list(db.execute(f"SELECT {select} FROM {table}"))
    finally:
        db.close()


def _import_identity(url: str, identity: Path) -> dict[str, int]:
    counts = {}
    with connect(url) as db, db.transaction():
        for table, (key, agree) in _TABLES.items():
            columns = key + agree
            rows = _sqlite_rows(identity, table, columns)
            names = ", ".join(columns)
            marks = ", ".join(["%s"] * len(columns))
            before = db.execute(f"SELECT count(*) FROM identity.{table}").fetchone()[0]
            with db.cursor() as cursor:
                cursor.executemany(f"INSERT INTO identity.{table} ({names}) VALUES ({marks}) "
                                   f"ON CONFLICT ({', '.join(key)}) DO NOTHING", rows)
            counts[table] = db.execute(f"SELECT count(*) FROM identity.{table}").fetchone()[0] \
                - before
            _require_same(db, table, key, agree, rows)
    return counts


def _require_same(db: Any, table: str, key: tuple[str, ...], agree: tuple[str, ...],
                  rows: list[tuple[Any, ...]]) -> None:
    """Every embedded row now in the database as it was (a key found mapped otherwise means
    the database was used before the import: two identities for one patient)."""
    where = " AND ".join(f"{k} = %s" for k in key)
    select = f"SELECT {', '.join(agree)} FROM identity.{table} WHERE {where}"
    for row in rows:
        found = db.execute(select, list(row[:len(key)])).fetchone()
        wanted = tuple(bytes(v) if isinstance(v, memoryview) else v for v in row[len(key):])
        got = tuple(bytes(v) if isinstance(v, memoryview) else v for v in (found or ()))
        if got != wanted:
            raise SkinriskError(
                f"identity.{table}: a key of the embedded store is mapped otherwise in the "
                "database (it was used before this import); nothing was imported. Compare the "
                "two by hand before going on: merging them would give one patient two ids")


def _import_ledger(url: str, ledger_file: Path) -> int:
    from skinrisk.ledger import entries, verify

    verdict = verify(ledger_file)
    if not verdict.ok:
        raise SkinriskError(f"{ledger_file}: entry {verdict.first_bad} {verdict.why}; an "
                            "embedded ledger that does not verify is not imported")
    with connect(url) as db, db.transaction():
        present = dict(db.execute("SELECT seq, hash FROM ledger.entries").fetchall())
        new = 0
        for entry in entries(ledger_file):
            if entry["seq"] in present:
                if present[entry["seq"]] != entry["hash"]:
                    raise SkinriskError(
                        f"ledger.entries in {describe(url)} holds another chain (entry "
                        f"{entry['seq']} differs); nothing was imported. An installation has "
                        "one ledger: find out which one is this installation's")
                continue
            db.execute('INSERT INTO ledger.entries (seq, at, event, "by", data, prev, hash) '
                       "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                       [entry["seq"], entry["at"], entry["event"], entry["by"],
                        json.dumps(entry["data"], sort_keys=True, ensure_ascii=True),
                        entry["prev"], entry["hash"]])
            new += 1
        if len(present) > len(present.keys() & {e["seq"] for e in entries(ledger_file)}):
            raise SkinriskError(f"ledger.entries in {describe(url)} has entries the embedded "
                                "ledger lacks: the database has a ledger of its own; nothing "
                                "was imported. An installation has one ledger: find out which "
                                "one is this installation's")
    return new

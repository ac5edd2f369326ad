"""The audit ledger on PostgreSQL: ledger.entries (migration 0002), one row per entry.

An append takes a transaction-scoped advisory lock, reads the last entry, and inserts the next
one built by skinrisk.ledger.next_entry: the same fields and hash as a ledger.jsonl line, so
a chain verifies whichever backend wrote it. The lock serialises appenders on any server
setting; the primary key on seq and the unique hash would refuse a fork even without it. The
roles may INSERT and SELECT only, and triggers refuse UPDATE, DELETE and TRUNCATE.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from skinrisk.records.connection import connect, lock_key

APPEND_LOCK = lock_key("skinrisk.ledger.append")
_COLUMNS = 'seq, at, event, "by", data, prev, hash'


def append_entry(url: str, event: str, data: dict[str, Any], by: str) -> dict[str, Any]:
    """Append one event; returns the entry written."""
    from skinrisk.ledger import next_entry

    with connect(url) as db, db.transaction():
        db.execute("SELECT pg_advisory_xact_lock(%s)", [APPEND_LOCK])
        last = db.execute("SELECT seq, hash FROM ledger.entries ORDER BY seq DESC LIMIT 1"
                          ).fetchone()
        entry = next_entry({"seq": last[0], "hash": last[1]} if last else None, event, data, by)
        db.execute(f"INSERT INTO ledger.entries ({_COLUMNS}) "
                   "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                   [entry["seq"], entry["at"], entry["event"], entry["by"],
                    json.dumps(entry["data"], sort_keys=True, ensure_ascii=True),
                    entry["prev"], entry["hash"]])
    return entry


def read_entries(url: str) -> Iterator[dict[str, Any]]:
    """Every entry, oldest first, as the dicts a ledger.jsonl line holds. The rows are fetched
    here, not lazily: a database that does not answer fails the caller as itself, never inside
    a verifier's walk, where it would read as a broken chain."""
    with connect(url) as db:
        rows = db.execute(f"SELECT {_COLUMNS} FROM ledger.entries ORDER BY seq").fetchall()
    return iter([{"seq": seq, "at": at, "event": event, "by": by, "data": json.loads(data),
                  "prev": prev, "hash": digest}
                 for seq, at, event, by, data, prev, digest in rows])

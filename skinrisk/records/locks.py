"""One holder at a time of a named lock, on whichever backend this installation uses.

Embedded: flock on ``<home>/locks/<name>.lock`` (skinrisk.localfs.exclusive_lock), as before.
With SKINRISK_DATABASE_URL: a session-level PostgreSQL advisory lock on the name's key, held by
a connection opened for it alone, so workers that share no disk still exclude each other. As
with flock, a holder that dies drops the lock: the server ends its session. A holder whose
connection is cut (the server restarted) has lost the lock without being told; the stages keep
their own invariants (commit markers, idempotent reruns) for that case, as they do for a kill.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from skinrisk.layout import StateLayout
from skinrisk.localfs import exclusive_lock
from skinrisk.records import database_url
from skinrisk.records.connection import connect, lock_key


@contextmanager
def named_lock(layout: StateLayout, name: str) -> Iterator[None]:
    """Wait for, then hold, the lock ``name`` (e.g. "ingest", "promote", "train-<key>")."""
    url = database_url()
    if not url:
        with exclusive_lock(layout.locks / f"{name}.lock"):
            yield
        return
    with connect(url) as db:
        db.execute("SELECT pg_advisory_lock(%s)", [lock_key(f"skinrisk.lock/{name}")])
        # Released when the connection closes, on the way out of this block: no unlock call
        # that could fail on a broken connection and hide the error that ended the block.
        yield

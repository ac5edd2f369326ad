"""One holder at a time of a named lock, on whichever backend this installation uses.

Embedded: flock on ``<home>/locks/<name>.lock`` (skinrisk.localfs.exclusive_lock).
With SKINRISK_DATABASE_URL: a session-level PostgreSQL advisory lock on the name's key, held by
a connection opened for it alone, so workers that share no disk still exclude each other. As
with flock, a holder that dies drops the lock: the server ends its session. A holder whose
connection is cut (the server restarted) has lost the lock without being told until it asks:
``Held.confirm()`` asks, and the stages call it before their irreversible steps (the raw zone's
commit, the alias move, the training's done record).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout
from skinrisk.localfs import exclusive_lock
from skinrisk.records import database_url
from skinrisk.records.connection import connect, lock_key

if TYPE_CHECKING:
    import psycopg


class Held:
    """A held named lock. ``confirm()`` before an irreversible step: a PostgreSQL session can end
    under its holder (a server restart, a network drop noticed by the keepalives), which frees
    the lock for another holder; going on then could run a step twice. A flock cannot be lost."""

    def __init__(self, name: str, db: psycopg.Connection | None = None) -> None:
        self.name, self._db = name, db

    def confirm(self) -> None:
        if self._db is None:
            return
        import psycopg

        try:
            self._db.execute("SELECT 1")  # the session, hence its advisory lock, still there
        except psycopg.Error:
            raise SkinriskError(
                f"lost the lock {self.name!r}: its database session ended (the server "
                "restarted or the network dropped), so another run may hold it now. Stopped "
                "before the next irreversible step; rerun: what was done is found done") from None


@contextmanager
def named_lock(layout: StateLayout, name: str) -> Iterator[Held]:
    """Wait for, then hold, the lock ``name`` (e.g. "ingest", "promote", "train-<key>")."""
    url = database_url()
    if not url:
        with exclusive_lock(layout.locks / f"{name}.lock"):
            yield Held(name)
        return
    with connect(url) as db:
        db.execute("SELECT pg_advisory_lock(%s)", [lock_key(f"skinrisk.lock/{name}")])
        # Released when the connection closes, on the way out of this block: no unlock call
        # that could fail on a broken connection and hide the error that ended the block.
        yield Held(name, db)

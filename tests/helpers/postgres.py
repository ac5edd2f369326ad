"""A throwaway database on the real PostgreSQL server, for the metadata-store tests.

The server is SKINRISK_TEST_POSTGRES (default postgresql://postgres@127.0.0.1:5432/postgres,
trust auth as on CI and on the development machines). Not reachable: the test is skipped, except
under CI, which starts PostgreSQL (.ci/run) so that a missing server is a failure there.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

SERVER = os.environ.get("SKINRISK_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def server_or_skip() -> None:
    import psycopg

    try:
        psycopg.connect(SERVER, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(reason=f"PostgreSQL not reachable at {SERVER} "
                    f"({exc.__class__.__name__}); start it or set SKINRISK_TEST_POSTGRES")


def database_url(database: str, role: str | None = None) -> str:
    """The URL of ``database`` on the test server, acting as ``role`` (SET ROLE at connect, as a
    login mapped to that group role would)."""
    base = SERVER.rsplit("/", 1)[0] + "/" + database
    return base + (f"?options=-c%20role%3D{role}" if role else "")


@contextmanager
def fresh_database(migrated: bool = True) -> Iterator[str]:
    """A new database (its name), with skinrisk's migrations applied; dropped afterwards."""
    import psycopg

    from skinrisk.records.migrations import apply_migrations

    server_or_skip()
    name = f"skinrisk_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(SERVER, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        if migrated:
            apply_migrations(database_url(name))
        yield name
    finally:
        with psycopg.connect(SERVER, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def terminate_sessions(database: str) -> int:
    """Cut every session on ``database`` but this one, as a server restart does to clients."""
    import psycopg

    with psycopg.connect(SERVER, autocommit=True) as admin:
        rows = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = %s AND pid <> pg_backend_pid()",
                             [database]).fetchall()
    return len(rows)

"""Connections to the metadata database, and the advisory-lock key of a name."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from skinrisk.errors import SkinriskError

if TYPE_CHECKING:
    import psycopg


def connect(url: str, autocommit: bool = True) -> psycopg.Connection:
    """A connection, or a SkinriskError that names the server (never the password)."""
    import psycopg

    try:
        # Keepalives: a lock's session sits idle for hours (a training), and a peer that went
        # away (failover, a NAT's idle timeout) must be noticed, not trusted.
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=30, keepalives=1,
                               keepalives_idle=60, keepalives_interval=10, keepalives_count=6)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SkinriskError(f"cannot connect to the metadata database {describe(url)}: {first}. "
                            "Check the URL (SKINRISK_DATABASE_URL; `db setup`: "
                            "--admin-url) and that the server is up, then rerun") from None
    except psycopg.Error as exc:  # a malformed URL: psycopg's text quotes it, password too
        raise SkinriskError(f"the metadata database URL {describe(url)} is not valid "
                            f"({type(exc).__name__}); fix SKINRISK_DATABASE_URL (`db setup`: "
                            "--admin-url)") from None


def describe(url: str) -> str:
    """host:port/database of a URL, for messages: no user, no password."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:  # a malformed URL is described, never echoed
        return "(an unreadable URL)"
    return f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"


def lock_key(name: str) -> int:
    """A signed 64-bit advisory-lock key for a name: the same in every process and version
    (Python's hash() is salted per process; PostgreSQL's hashtext is not a stable API)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)

"""Versioned schema migrations: numbered SQL files applied once each, in order.

``migrations/NNNN_name.sql`` are applied in number order, each in its own transaction together
with its row in ``public.schema_migrations`` (version, name, sha256 of the file, when). A rerun
applies nothing. A migration is never edited once applied: one whose file no longer matches the
checksum recorded for it is refused, as is a database that holds a migration this code does not
know (it was set up by newer code). Setup holds an advisory lock, so two setups at once apply
each migration once.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from skinrisk.errors import SkinriskError
from skinrisk.records.connection import connect, lock_key

if TYPE_CHECKING:
    import psycopg

FOLDER = Path(__file__).with_name("migrations")
NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
SETUP_LOCK = lock_key("skinrisk.records.migrations")

_TABLE = """
CREATE TABLE IF NOT EXISTS public.schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"


def load_migrations(folder: Path = FOLDER) -> list[Migration]:
    """Every migration file, in order; a stray or duplicated number is refused."""
    found: dict[int, Migration] = {}
    for path in sorted(folder.glob("*.sql")):
        match = NAME.match(path.name)
        if not match:
            raise SkinriskError(f"{path}: a migration is named NNNN_lowercase_words.sql")
        version = int(match[1])
        if version in found:
            raise SkinriskError(f"{path}: migration number {version:04d} is used twice")
        found[version] = Migration(version, match[2], path.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


def apply_migrations(url: str, migrations: list[Migration] | None = None) -> list[Migration]:
    """Apply what the database lacks; returns the migrations applied now (empty on a rerun)."""
    wanted = load_migrations() if migrations is None else migrations
    with connect(url) as db:
        db.execute("SELECT pg_advisory_lock(%s)", [SETUP_LOCK])
        try:
            db.execute(_TABLE)
            pending = _pending(_applied(db), wanted)
            for migration in pending:
                _apply(db, migration)
        finally:
            db.execute("SELECT pg_advisory_unlock(%s)", [SETUP_LOCK])
    return pending


def _apply(db: psycopg.Connection, migration: Migration, tries: int = 3) -> None:
    """One migration in one transaction. Roles are cluster-wide while the setup lock is per
    database: two databases on one server set up at the same moment can both try to create a
    group role; the loser's transaction rolls back whole, and its retry finds the role made."""
    import psycopg.errors

    for attempt in range(1, tries + 1):
        try:
            with db.transaction():
                db.execute(migration.sql.encode())  # bytes: no %-placeholders parsed
                db.execute("INSERT INTO public.schema_migrations (version, name, checksum) "
                           "VALUES (%s, %s, %s)",
                           [migration.version, migration.name, migration.checksum])
            return
        except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateObject):
            if attempt == tries:
                raise


def applied_versions(url: str) -> dict[int, str]:
    """version -> label of each migration the database holds (empty before the first setup)."""
    with connect(url) as db:
        exists = db.execute("SELECT to_regclass('public.schema_migrations')").fetchone()
        if not exists or exists[0] is None:
            return {}
        return {v: f"{v:04d}_{name}" for v, (name, _) in _applied(db).items()}


def _applied(db: psycopg.Connection) -> dict[int, tuple[str, str]]:
    rows = db.execute("SELECT version, name, checksum FROM public.schema_migrations").fetchall()
    return {int(version): (name, checksum) for version, name, checksum in rows}


def _pending(applied: dict[int, tuple[str, str]], wanted: list[Migration]) -> list[Migration]:
    known = {m.version: m for m in wanted}
    for version, (name, checksum) in sorted(applied.items()):
        migration = known.get(version)
        if migration is None:
            raise SkinriskError(
                f"the database holds migration {version:04d}_{name}, which this version of "
                "skinrisk does not have: it was set up by newer code; run that version's "
                "`skinrisk db setup`, or upgrade")
        if migration.checksum != checksum:
            raise SkinriskError(
                f"migration {migration.label} was edited after it was applied (its file's "
                f"sha256 {migration.checksum[:12]}... differs from the {checksum[:12]}... "
                "recorded): an applied migration is never changed. Restore the file and put "
                "the change in a new, higher-numbered migration")
    return [m for m in wanted if m.version not in applied]

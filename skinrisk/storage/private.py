"""The private store: surrogate ids and which received file became which image.

SQLite in WAL mode, so concurrent ingests (Airflow runs tasks at least once) serialise on short
transactions. Nothing here may be copied into the dataset, MLflow, reports or logs, and no other
user may read it: the folder is 0700 and the database 0600 from creation; SQLite gives its -wal
and -shm files the database's mode. A store found open to others is refused (permissions).
"""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path

from skinrisk.permissions import make_private_dir, make_private_file, require_private
from skinrisk.surrogates import SurrogateMap

_SCHEMA = """
CREATE TABLE IF NOT EXISTS patients (
    source TEXT NOT NULL, source_key TEXT NOT NULL, surrogate TEXT NOT NULL UNIQUE,
    PRIMARY KEY (source, source_key));
CREATE TABLE IF NOT EXISTS lesions (
    source TEXT NOT NULL, patient_key TEXT NOT NULL, lesion_key TEXT NOT NULL,
    surrogate TEXT NOT NULL UNIQUE, PRIMARY KEY (source, patient_key, lesion_key));
CREATE TABLE IF NOT EXISTS files (
    batch_id TEXT NOT NULL, file_name TEXT NOT NULL, line INTEGER,
    received_sha256 TEXT, outcome TEXT NOT NULL, image_id TEXT, quarantine_id TEXT,
    reason TEXT, PRIMARY KEY (batch_id, file_name));
CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL);
"""
# Columns added after the first release, with the migration that adds them to an older store:
# the landing entry's kind and listing signature (resends are judged against them).
_ADDED_COLUMNS = {"files": (("kind", "TEXT"), ("signature", "TEXT"))}


class PrivateStore(SurrogateMap):
    def __init__(self, path: Path) -> None:
        make_private_dir(path.parent)
        # Only the folder and the store's own files: a store may share its folder (a benchmark's
        # scratch folder); the stage commands check the whole zone (require_private_zones).
        require_private(path.parent, [path, *(path.with_name(path.name + s)
                                              for s in ("-wal", "-shm", "-journal"))])
        make_private_file(path)  # before SQLite would create it under the umask (0644)
        self._db = sqlite3.connect(path, timeout=60, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL is crash-safe in WAL mode; the raw zone's commit calls os.sync() before it
        # publishes a batch, so no committed batch can name a surrogate the disk forgot.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        for table, columns in _ADDED_COLUMNS.items():
            have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            for name, kind in columns:
                if name not in have:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")

    def _surrogate(self, table: str, prefix: str, key: dict[str, str]) -> str:
        where = " AND ".join(f"{k} = ?" for k in key)
        columns = ", ".join([*key, "surrogate"])
        marks = ", ".join("?" * (len(key) + 1))
        # INSERT OR IGNORE then SELECT: whoever inserts first wins, everyone reads the winner.
        self._db.execute(f"INSERT OR IGNORE INTO {table} ({columns}) VALUES ({marks})",
                         [*key.values(), f"{prefix}-{secrets.token_hex(8)}"])
        row = self._db.execute(f"SELECT surrogate FROM {table} WHERE {where}",
                               list(key.values())).fetchone()
        return str(row[0])

    def _secret(self, name: str) -> bytes:
        self._db.execute("INSERT OR IGNORE INTO secrets VALUES (?, ?)",
                         [name, secrets.token_bytes(32)])
        row = self._db.execute("SELECT value FROM secrets WHERE name = ?", [name]).fetchone()
        return bytes(row[0])

    def record_files(self, batch_id: str, records: list[dict[str, object]]) -> None:
        """Where each received file went; replaces the batch's earlier record (a rerun)."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM files WHERE batch_id = ?", [batch_id])
            self._db.executemany(
                "INSERT INTO files (batch_id, file_name, line, received_sha256, outcome, "
                "image_id, quarantine_id, reason, kind, signature) VALUES (:batch_id, "
                ":file_name, :line, :received_sha256, :outcome, :image_id, :quarantine_id, "
                ":reason, :kind, :signature)",
                [{"batch_id": batch_id, "kind": None, "signature": None, **r} for r in records])

    def confirm_signatures(self, batch_id: str, signatures: dict[str, str]) -> None:
        """Files found byte-identical under a new listing signature: not hashed again."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "UPDATE files SET signature = ? WHERE batch_id = ? AND file_name = ?",
                [(sig, batch_id, name) for name, sig in signatures.items()])

    def files_named(self, file_name: str) -> list[dict[str, object]]:
        """Every received file of that name, in any batch (audit: a name -> its image)."""
        return self._rows("SELECT * FROM files WHERE file_name = ? ORDER BY batch_id",
                          [file_name])

    def files_of_image(self, image_id: str) -> list[dict[str, object]]:
        return self._rows("SELECT * FROM files WHERE image_id = ? ORDER BY batch_id", [image_id])

    def _rows(self, sql: str, args: list[object]) -> list[dict[str, object]]:
        cursor = self._db.execute(sql, args)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def files_of(self, batch_id: str) -> list[dict[str, object]]:
        cursor = self._db.execute("SELECT * FROM files WHERE batch_id = ? ORDER BY file_name",
                                  [batch_id])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

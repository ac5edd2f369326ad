"""The private store: surrogate ids and which received file became which image.

SQLite in WAL mode, so concurrent ingests (Airflow runs tasks at least once) serialise on short
transactions. Nothing here may be copied into the dataset, MLflow, reports or logs.
"""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path

from skinrisk.ingest.identity import normalise_source_id

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
"""


class PrivateStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=60, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL is crash-safe in WAL mode; the raw zone's commit calls os.sync() before it
        # publishes a batch, so no committed batch can name a surrogate the disk forgot.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> PrivateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def surrogate_patient(self, source: str, raw_id: str) -> str:
        key = normalise_source_id(raw_id)
        return self._surrogate("patients", "P", {"source": source, "source_key": key})

    def surrogate_lesion(self, source: str, raw_patient: str, raw_lesion: str) -> str:
        return self._surrogate("lesions", "L", {
            "source": source, "patient_key": normalise_source_id(raw_patient),
            "lesion_key": normalise_source_id(raw_lesion)})

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

    def record_files(self, batch_id: str, records: list[dict[str, object]]) -> None:
        """Where each received file went; replaces the batch's earlier record (a rerun)."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM files WHERE batch_id = ?", [batch_id])
            self._db.executemany(
                "INSERT INTO files VALUES (:batch_id, :file_name, :line, :received_sha256, "
                ":outcome, :image_id, :quarantine_id, :reason)",
                [{"batch_id": batch_id, **r} for r in records])

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

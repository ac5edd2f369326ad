"""The surrogate-id map on PostgreSQL: PrivateStore's interface on schema ``identity``.

Same methods and meanings as skinrisk.storage.private.PrivateStore (the embedded SQLite store),
tables created by migration 0001 and readable only by the ingest role. Concurrent ingests
serialise as they do on SQLite: a surrogate is looked up, else INSERT ... ON CONFLICT DO
NOTHING, else looked up again, so whoever inserts first wins and everyone reads the winner; a
store remembers what it read (one round trip per new key, none per repeat); a batch's file
records are replaced in one transaction under an advisory lock on that batch.
"""

from __future__ import annotations

import secrets
from typing import Any

from skinrisk.records.connection import connect, lock_key
from skinrisk.surrogates import SurrogateMap

_FILE_COLUMNS = ("batch_id", "file_name", "line", "received_sha256", "outcome", "image_id",
                 "quarantine_id", "reason", "kind", "signature")


class PostgresPrivateStore(SurrogateMap):
    def __init__(self, url: str) -> None:
        self._db = connect(url)
        self._known: dict[tuple[str, ...], str] = {}
        self._secrets: dict[str, bytes] = {}

    def _surrogate(self, table: str, prefix: str, key: dict[str, str]) -> str:
        from psycopg import sql

        memo = (table, *key.values())
        if memo in self._known:  # a mapping never changes once made: ask the server once
            return self._known[memo]
        target = sql.Identifier("identity", table)
        names = sql.SQL(", ").join(map(sql.Identifier, key))
        where = sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(k)) for k in key)
        select = sql.SQL("SELECT surrogate FROM {} WHERE {}").format(target, where)
        # Look first (one round trip for a known patient), else insert; the conflict target is
        # the natural key only, so a (vanishingly rare) clash of random surrogates raises
        # instead of passing for "already mapped". A concurrent ingest that inserts the same key
        # in between makes the insert return nothing: the second look reads its winner.
        row = self._db.execute(select, list(key.values())).fetchone()
        if row is None:
            row = self._db.execute(sql.SQL(
                "INSERT INTO {} ({}, surrogate) VALUES ({}, %s) ON CONFLICT ({}) DO NOTHING "
                "RETURNING surrogate").format(
                    target, names, sql.SQL(", ").join(sql.Placeholder() * len(key)), names),
                [*key.values(), f"{prefix}-{secrets.token_hex(8)}"]).fetchone()
        if row is None:
            row = self._db.execute(select, list(key.values())).fetchone()
        assert row is not None  # inserted or found above, and never deleted
        self._known[memo] = str(row[0])
        return self._known[memo]

    def _secret(self, name: str) -> bytes:
        if name not in self._secrets:  # made once, never changed: read once per store
            self._db.execute("INSERT INTO identity.secrets VALUES (%s, %s) "
                             "ON CONFLICT DO NOTHING", [name, secrets.token_bytes(32)])
            row = self._db.execute("SELECT value FROM identity.secrets WHERE name = %s",
                                   [name]).fetchone()
            assert row is not None
            self._secrets[name] = bytes(row[0])
        return self._secrets[name]

    def record_files(self, batch_id: str, records: list[dict[str, object]]) -> None:
        """Where each received file went; replaces the batch's earlier record (a rerun)."""
        columns = ", ".join(_FILE_COLUMNS)
        values = ", ".join(f"%({c})s" for c in _FILE_COLUMNS)
        with self._db.transaction():
            self._lock_batch(batch_id)
            self._db.execute("DELETE FROM identity.files WHERE batch_id = %s", [batch_id])
            with self._db.cursor() as cursor:
                cursor.executemany(
                    f"INSERT INTO identity.files ({columns}) VALUES ({values})",
                    [{"batch_id": batch_id, "kind": None, "signature": None, **r}
                     for r in records])

    def confirm_signatures(self, batch_id: str, signatures: dict[str, str]) -> None:
        """Files found byte-identical under a new listing signature: not hashed again."""
        with self._db.transaction():
            self._lock_batch(batch_id)
            with self._db.cursor() as cursor:
                cursor.executemany(
                    "UPDATE identity.files SET signature = %s "
                    "WHERE batch_id = %s AND file_name = %s",
                    [(sig, batch_id, name) for name, sig in signatures.items()])

    def _lock_batch(self, batch_id: str) -> None:
        # Rows that do not exist yet cannot be locked with FOR UPDATE: the batch's key can.
        self._db.execute("SELECT pg_advisory_xact_lock(%s)",
                         [lock_key(f"identity.files/{batch_id}")])

    def files_named(self, file_name: str) -> list[dict[str, object]]:
        """Every received file of that name, in any batch (audit: a name -> its image)."""
        return self._rows("file_name", file_name)

    def files_of_image(self, image_id: str) -> list[dict[str, object]]:
        return self._rows("image_id", image_id)

    def files_of(self, batch_id: str) -> list[dict[str, object]]:
        return self._rows("batch_id", batch_id, order="file_name")

    def _rows(self, column: str, value: object, order: str = "batch_id"
              ) -> list[dict[str, object]]:
        from psycopg.rows import dict_row

        assert column in _FILE_COLUMNS and order in _FILE_COLUMNS  # names, never input
        with self._db.cursor(row_factory=dict_row) as cursor:
            cursor.execute(f"SELECT {', '.join(_FILE_COLUMNS)} FROM identity.files "
                           f"WHERE {column} = %s ORDER BY {order}", [value])
            rows: list[dict[str, Any]] = cursor.fetchall()
        return rows

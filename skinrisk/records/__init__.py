"""Records in PostgreSQL: the production metadata store beside the embedded one.

SKINRISK_DATABASE_URL unset (the default): the surrogate-id map is SQLite under private/, the
ledger is ledger.jsonl and locks are flock, exactly as before. Set (e.g.
``postgresql://skinrisk_ingest@db:5432/skinrisk``): the identity map (schema ``identity``), the
ledger (``ledger.entries``) and the locks (advisory locks) live in that database, whose schema
`skinrisk db setup` creates from the numbered migrations beside this file. psycopg is imported
only when a URL is set, so the embedded install never needs it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout
from skinrisk.storage.private import PrivateStore

if TYPE_CHECKING:
    from skinrisk.records.identity import PostgresPrivateStore

DATABASE_URL_VARIABLE = "SKINRISK_DATABASE_URL"
ADMIN_URL_VARIABLE = "SKINRISK_DATABASE_ADMIN_URL"
IDENTITY_FILE = "identity.sqlite"


class IdentityStore(Protocol):
    """What ingest and audit ask of the surrogate-id map, whichever database holds it."""

    def surrogate_patient(self, source: str, raw_id: str) -> str: ...
    def surrogate_lesion(self, source: str, raw_patient: str, raw_lesion: str) -> str: ...
    def device_token(self, device: str) -> str: ...
    def record_files(self, batch_id: str, records: list[dict[str, object]]) -> None: ...
    def confirm_signatures(self, batch_id: str, signatures: dict[str, str]) -> None: ...
    def files_named(self, file_name: str) -> list[dict[str, object]]: ...
    def files_of_image(self, image_id: str) -> list[dict[str, object]]: ...
    def files_of(self, batch_id: str) -> list[dict[str, object]]: ...
    def close(self) -> None: ...


def database_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The metadata database's URL, or None for the embedded store."""
    env = os.environ if environ is None else environ
    return env.get(DATABASE_URL_VARIABLE) or None


def open_private_store(layout: StateLayout, environ: Mapping[str, str] | None = None
                       ) -> PrivateStore | PostgresPrivateStore:
    """The surrogate-id map this installation uses: PostgreSQL when SKINRISK_DATABASE_URL is
    set, else the SQLite file under the private zone."""
    url = database_url(environ)
    if url:
        from skinrisk.records.identity import PostgresPrivateStore

        refuse_embedded_leftover(layout.private / IDENTITY_FILE, "identity map")
        return PostgresPrivateStore(url)
    return PrivateStore(layout.private / IDENTITY_FILE)


def has_private_store(layout: StateLayout, environ: Mapping[str, str] | None = None) -> bool:
    """Whether there is a map to look in (the embedded file exists only after a first ingest)."""
    return database_url(environ) is not None or (layout.private / IDENTITY_FILE).is_file()


def refuse_embedded_leftover(path: Path, what: str) -> None:
    """With the database configured, an embedded store still on disk means an installation
    switched backends with its records behind: going on would map every known patient to a new
    surrogate (splits are drawn on surrogates: one person in train and test) and start a second
    ledger the archive refuses. Stop, naming the file; moving it is the operator's decision."""
    if path.is_file() and path.stat().st_size > 0:
        raise SkinriskError(
            f"{DATABASE_URL_VARIABLE} is set but the embedded {what} {path} is still there: "
            "its records are not in the database. Carry them over with `skinrisk db "
            "import-embedded` (it copies them unchanged, then renames the file to *.imported), "
            "or unset the variable to go on embedded")

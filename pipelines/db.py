"""`skinrisk db setup`: create or upgrade the metadata database's schema (PostgreSQL);
`skinrisk db import-embedded`: carry an embedded installation's records into it.

Applies the numbered migrations of skinrisk/records/migrations/ that the database lacks, each in
its own transaction, with an owner's URL (the roles the tasks use may not create schemas).
Rerunning it applies nothing; an edited migration is refused.
"""

from __future__ import annotations

from typing import Annotated

import typer

from pipelines.common import out, run_app
from skinrisk.errors import SkinriskError
from skinrisk.records import ADMIN_URL_VARIABLE

ADMIN_URL = Annotated[str | None, typer.Option(
    "--admin-url", envvar=ADMIN_URL_VARIABLE, show_envvar=False,
    help="postgresql://owner@host:5432/database: a role that may create schemas and roles "
    f"(default: ${ADMIN_URL_VARIABLE}).")]


def _required(admin_url: str | None, what: str) -> str:
    if not admin_url:
        raise SkinriskError(f"no database to {what}: pass --admin-url or set "
                            f"{ADMIN_URL_VARIABLE} (an owner's postgresql:// URL)")
    return admin_url


def setup_command(admin_url: ADMIN_URL = None) -> int:
    """Apply the schema migrations the metadata database lacks; print what was applied."""
    from skinrisk.records.connection import describe
    from skinrisk.records.migrations import applied_versions, apply_migrations

    admin_url = _required(admin_url, "set up")
    applied = apply_migrations(admin_url)
    where = describe(admin_url)
    for migration in applied:
        out.print(f"db: applied {migration.label}", soft_wrap=True)
    current = max(applied_versions(admin_url), default=0)
    out.print(f"db: {where} is at migration {current:04d}" + (
        f" ({len(applied)} applied now)" if applied else "; nothing to apply"), soft_wrap=True)
    return 0


def import_command(admin_url: ADMIN_URL = None) -> int:
    """Copy this SKINRISK_HOME's embedded identity map and ledger into the database, unchanged
    (surrogates, secrets, entries and hashes), then rename the two files to *.imported."""
    from skinrisk.layout import StateLayout
    from skinrisk.ledger import ledger_path
    from skinrisk.records import IDENTITY_FILE
    from skinrisk.records.connection import describe
    from skinrisk.records.importer import import_embedded

    admin_url = _required(admin_url, "import into")
    layout = StateLayout.from_env()
    identity, ledger_file = layout.private / IDENTITY_FILE, ledger_path(layout)
    if not identity.is_file() and not ledger_file.is_file():
        raise SkinriskError(f"nothing to import: neither {identity} nor {ledger_file} exists "
                            "(check SKINRISK_HOME)")
    done = import_embedded(admin_url, identity, ledger_file)
    counts = ", ".join(f"{table} {n}" for table, n in done.rows.items()) or "no identity map"
    out.print(f"db: imported into {describe(admin_url)}: {counts}; ledger entries "
              f"{done.entries}", soft_wrap=True)
    for path in done.kept:
        out.print(f"db: kept as {path}", soft_wrap=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_app(setup_command, argv, prog_name="skinrisk db setup")


if __name__ == "__main__":
    raise SystemExit(main())

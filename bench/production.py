"""The production state backend on this machine, for benchmarks (issue 22).

What a stateless worker talks to: records (identity map, ledger, locks) in a fresh, migrated
PostgreSQL database; the DVC remote, the working prefix and the quarantine on an S3 API (moto's
server) behind a proxy that counts the bytes each way; the data branch on a git remote outside
SKINRISK_HOME. Every data stage then runs with SKINRISK_WORKSPACE=clone on an emptied
SKINRISK_HOME, as on a wiped Celery worker or a fresh Kubernetes pod. The landing zone stays a
folder, as in the embedded runs it is compared with: the comparison is of the state backend.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from tests.helpers.faulty_proxy import FaultyProxy
from tests.helpers.s3 import CREDENTIALS, moto_server

SERVER = os.environ.get("SKINRISK_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
BUCKETS = {"dvc": "bench-dvc", "work": "bench-work", "quarantine": "bench-quarantine"}


def database_url(database: str) -> str:
    return SERVER.rsplit("/", 1)[0] + "/" + database


def transactions(database: str) -> int:
    """Commits and rollbacks of ``database`` so far (in autocommit: one per statement)."""
    import psycopg

    with psycopg.connect(SERVER, autocommit=True) as admin:
        admin.execute("SELECT pg_stat_clear_snapshot()")
        row = admin.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database "
                            "WHERE datname = %s", [database]).fetchone()
    return int(row[0]) if row else 0


@dataclass
class Meter:
    """What one stage cost beyond its wall time."""

    proxy: FaultyProxy
    database: str

    def reading(self) -> tuple[int, int, int, int]:
        """(bytes read from S3, bytes written, S3 requests, PostgreSQL transactions)."""
        return (self.proxy.bytes_received, self.proxy.bytes_sent, len(self.proxy.seen),
                transactions(self.database))


@contextmanager
def backend(root: Path, kept_cache: bool = False) -> Iterator[Meter]:
    """The production backend's environment, set for the duration (home: ``root``/home).
    ``kept_cache``: SKINRISK_CACHE outside the emptied home, as a compose worker keeps it
    between its tasks (DVC's objects, quality scores); else every task starts cold, as a
    fresh Kubernetes pod does."""
    import boto3
    import psycopg

    from skinrisk.records.migrations import apply_migrations

    database = f"skinrisk_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(SERVER, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {database}")
    try:
        apply_migrations(database_url(database))
        with moto_server() as endpoint, FaultyProxy(endpoint) as proxy, \
                mock.patch.dict(os.environ, {
                    **CREDENTIALS, "AWS_ENDPOINT_URL_S3": proxy.endpoint,
                    "SKINRISK_HOME": str(root / "home"), "SKINRISK_WORKSPACE": "clone",
                    "SKINRISK_DATABASE_URL": database_url(database),
                    "SKINRISK_GIT_REMOTE": str(root / "git-server" / "data.git"),
                    "SKINRISK_DVC_REMOTE": f"s3://{BUCKETS['dvc']}/store",
                    "SKINRISK_WORK_URL": f"s3://{BUCKETS['work']}/pipeline",
                    "SKINRISK_QUARANTINE_URL": f"s3://{BUCKETS['quarantine']}/files",
                    "MLFLOW_TRACKING_URI": "http://127.0.0.1:1",  # no data stage calls it
                    **({"SKINRISK_CACHE": str(root / "kept-cache")} if kept_cache else {})}):
            client = boto3.client("s3", endpoint_url=endpoint)
            for bucket in BUCKETS.values():
                client.create_bucket(Bucket=bucket)
            if not kept_cache:
                os.environ.pop("SKINRISK_CACHE", None)
            yield Meter(proxy, database)
    finally:
        with psycopg.connect(SERVER, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def wipe_home() -> None:
    """What a wiped worker starts every task from."""
    shutil.rmtree(os.environ["SKINRISK_HOME"], ignore_errors=True)

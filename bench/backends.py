"""The data stages on the embedded metadata store vs PostgreSQL (issue 22's production records).

The same synthetic cohort goes through ingest, quality, validate, split, pack and version twice
(after a discarded warm-up run), each time into a fresh SKINRISK_HOME: once embedded (SQLite
identity map, ledger.jsonl, flock) and once with SKINRISK_DATABASE_URL set (identity map, ledger
and locks in a fresh, migrated database on the server at SKINRISK_TEST_POSTGRES, default
127.0.0.1:5432). Per stage: seconds on each backend, and the transactions the stage made on
PostgreSQL (pg_stat_database's commits and rollbacks of that database: in autocommit, one per
statement, so round trips). `python -m bench.backends` prints the table.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "params-small.yaml"
SERVER = os.environ.get("SKINRISK_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
STAGES = (("ingest", "--landing"), ("quality",), ("validate",), ("split",), ("pack",),
          ("version",))


def _url(database: str) -> str:
    return SERVER.rsplit("/", 1)[0] + "/" + database


def _transactions(database: str) -> int:
    import psycopg

    with psycopg.connect(SERVER, autocommit=True) as admin:
        admin.execute("SELECT pg_stat_clear_snapshot()")
        row = admin.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database "
                            "WHERE datname = %s", [database]).fetchone()
    return int(row[0]) if row else 0


def _stages(home: Path, landing: Path, database: str | None) -> list[tuple[str, float, int]]:
    from pipelines.cli import main

    os.environ["SKINRISK_HOME"] = str(home)
    out = []
    for stage in STAGES:
        args = [stage[0], "--landing", str(landing)] if len(stage) > 1 else [stage[0]]
        if stage[0] != "version":
            args += ["--params", str(PARAMS)]
        before = _transactions(database) if database else 0
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = main(args)
        seconds = time.perf_counter() - start
        if code != 0:
            raise RuntimeError(f"skinrisk {stage[0]} failed in the benchmark ({home})")
        time.sleep(1.1 if database else 0)  # the stage's sessions report their counts on exit
        out.append((stage[0], seconds, (_transactions(database) - before) if database else 0))
    return out


def run(images: int = 240) -> list[tuple[str, float, str]]:
    import psycopg

    from pipelines.cli import main
    from skinrisk.records.migrations import apply_migrations

    database = f"skinrisk_bench_{uuid.uuid4().hex[:10]}"
    with tempfile.TemporaryDirectory() as root, mock.patch.dict(os.environ):
        landing = Path(root) / "landing"
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["synth", "--out", str(landing / "b1"), "--truth",
                         str(Path(root) / "b1.csv"), "--images", str(images),
                         "--params", str(PARAMS)]) == 0
        with psycopg.connect(SERVER, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {database}")
        try:
            os.environ.pop("SKINRISK_DATABASE_URL", None)
            # First imports (TensorFlow Data Validation alone is ~30 s) land in a discarded run.
            _stages(Path(root) / "warm-up", landing, None)
            embedded = _stages(Path(root) / "embedded", landing, None)
            apply_migrations(_url(database))
            os.environ["SKINRISK_DATABASE_URL"] = _url(database)
            production = _stages(Path(root) / "postgres", landing, database)
        finally:
            with psycopg.connect(SERVER, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            shutil.rmtree(Path(root) / "embedded", ignore_errors=True)
    rows: list[tuple[str, float, str]] = []
    for (stage, local, _), (_, remote, trips) in zip(embedded, production, strict=True):
        rows += [(f"{stage}, {images} photos: embedded (SQLite, files)", local, "s"),
                 (f"{stage}, {images} photos: PostgreSQL records", remote, "s"),
                 (f"{stage}, {images} photos: PostgreSQL transactions", trips, "count")]
    total_local = sum(s for _, s, _ in embedded)
    total_remote = sum(s for _, s, _ in production)
    rows.append((f"data stages, {images} photos: PostgreSQL / embedded (target <= 1.3)",
                 total_remote / total_local, "ratio"))
    return rows


if __name__ == "__main__":
    for name, value, unit in run():
        print(f"{name:70s} {value:10.3f} {unit}")

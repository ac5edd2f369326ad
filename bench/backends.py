"""The data stages on the embedded backend vs the production one (issue 22).

The same synthetic cohort goes through ingest, quality, validate, split, pack and version three
times (after a discarded warm-up run), each into a fresh SKINRISK_HOME:
- embedded: SQLite identity map, ledger.jsonl, flock, the workspace kept between stages;
- PostgreSQL records: SKINRISK_DATABASE_URL set (identity map, ledger and locks in a fresh,
  migrated database on SKINRISK_TEST_POSTGRES, default 127.0.0.1:5432), the workspace kept;
- production: PostgreSQL records, and no disk kept: every stage on an emptied SKINRISK_HOME with
  SKINRISK_WORKSPACE=clone, the DVC remote, working prefix and quarantine on an S3 API (moto
  behind a byte-counting proxy), the data branch on a git remote (bench/production.py).
Per stage: seconds, PostgreSQL transactions (pg_stat_database's commits and rollbacks of that
database: in autocommit one per statement, so round trips) and, in production, the bytes read
from and written to S3. `python -m bench.backends` prints the table.
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

from bench import production

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "params-small.yaml"
STAGES = (("ingest", "--landing"), ("quality",), ("validate",), ("split",), ("pack",),
          ("version",))
MB = 1e6


def _stages(home: Path | None, landing: Path, meter: production.Meter | None = None,
            database: str | None = None) -> list[tuple[str, float, tuple[int, ...]]]:
    """Each stage's seconds and what it cost: (S3 read, S3 written, S3 requests, transactions).
    ``home``: run there, kept between stages; None: the production backend's, emptied first."""
    from pipelines.cli import main

    if home is not None:
        os.environ["SKINRISK_HOME"] = str(home)
    out = []
    for stage in STAGES:
        args = [stage[0], "--landing", str(landing)] if len(stage) > 1 else [stage[0]]
        if stage[0] != "version":
            args += ["--params", str(PARAMS)]
        if home is None:
            production.wipe_home()
        before = _reading(meter, database)
        start = time.perf_counter()
        errors = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(errors):
            code = main(args)
        seconds = time.perf_counter() - start
        if code != 0:
            raise RuntimeError(f"skinrisk {stage[0]} failed in the benchmark "
                               f"({os.environ['SKINRISK_HOME']}): {errors.getvalue()[-2000:]}")
        time.sleep(1.1 if database or meter else 0)  # sessions report their counts on exit
        out.append((stage[0], seconds, tuple(
            b - a for a, b in zip(before, _reading(meter, database), strict=True))))
    return out


def _reading(meter: production.Meter | None, database: str | None) -> tuple[int, ...]:
    if meter is not None:
        return meter.reading()
    return (0, 0, 0, production.transactions(database) if database else 0)


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
        with psycopg.connect(production.SERVER, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {database}")
        try:
            for name in ("SKINRISK_DATABASE_URL", "SKINRISK_WORKSPACE", "SKINRISK_WORK_URL"):
                os.environ.pop(name, None)
            # First imports (TensorFlow Data Validation alone is ~30 s) land in a discarded run.
            _stages(Path(root) / "warm-up", landing)
            embedded = _stages(Path(root) / "embedded", landing)
            apply_migrations(production.database_url(database))
            os.environ["SKINRISK_DATABASE_URL"] = production.database_url(database)
            records = _stages(Path(root) / "postgres", landing, database=database)
        finally:
            with psycopg.connect(production.SERVER, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            shutil.rmtree(Path(root) / "embedded", ignore_errors=True)
        with production.backend(Path(root) / "production") as meter:
            stateless = _stages(None, landing, meter=meter)
    rows: list[tuple[str, float, str]] = []
    for (stage, local, _), (_, remote, pg), (_, cloned, cost) in zip(
            embedded, records, stateless, strict=True):
        rows += [(f"{stage}, {images} photos: embedded (SQLite, files)", local, "s"),
                 (f"{stage}, {images} photos: PostgreSQL records", remote, "s"),
                 (f"{stage}, {images} photos: PostgreSQL transactions", pg[3], "count"),
                 (f"{stage}, {images} photos: production, wiped disk (PostgreSQL, S3, git)",
                  cloned, "s"),
                 (f"{stage}, {images} photos: production: S3 read", cost[0] / MB,
                  f"MB ({cost[1] / MB:.2f} MB written, {cost[2]} requests)"),
                 (f"{stage}, {images} photos: production: PostgreSQL transactions", cost[3],
                  "count")]
    total = {name: sum(s for _, s, _ in series) for name, series in (
        ("embedded", embedded), ("records", records), ("production", stateless))}
    rows += [(f"data stages, {images} photos: PostgreSQL records / embedded (target <= 1.3)",
              total["records"] / total["embedded"], "ratio"),
             (f"data stages, {images} photos: production, wiped disk / embedded "
              "(target <= 1.3)", total["production"] / total["embedded"], "ratio")]
    return rows


def increment(existing: int, new: int = 100, kept_cache: bool = True) -> float:
    """Seconds for every data stage of ``new`` photos into a dataset of ``existing``, on the
    production backend with every stage on an emptied home (the first delivery untimed)."""
    from pipelines.cli import main

    with tempfile.TemporaryDirectory() as root, \
            production.backend(Path(root) / "production", kept_cache) as meter:
        landing = Path(root) / "landing"
        seconds = 0.0
        for seed, (batch, count) in enumerate((("existing", existing), ("new", new)), 1):
            with contextlib.redirect_stdout(io.StringIO()):
                assert main(["synth", "--out", str(landing / batch), "--batch-id", batch,
                             "--truth", str(Path(root) / f"{batch}.csv"), "--images",
                             str(count), "--size", "160x120", "--seed", str(seed),
                             "--params", str(PARAMS)]) == 0
            seconds = sum(s for _, s, _ in _stages(None, landing, meter=meter))
        return seconds


def incremental(small: int = 100, large: int = 2_000) -> list[tuple[str, float, str]]:
    """Issue 22's flatness target on the production backend, a worker's cache kept."""
    into_small, into_large = increment(small), increment(large)
    return [(f"production, every data stage of 100 new photos into {small:,}", into_small,
             "s"),
            (f"production, every data stage of 100 new photos into {large:,}", into_large,
             "s"),
            (f"production: into {large:,} / into {small:,} (target <= 1.5)",
             into_large / into_small, "ratio")]


if __name__ == "__main__":
    for name, value, unit in [*run(), *incremental()]:
        print(f"{name:70s} {value:10.3f} {unit}")

"""The PostgreSQL metadata store under faults (issue 22): the server "restarts" mid-ingest.

A restart is, to a client, every session cut at once and the next connection made afresh: the
test cuts them (pg_terminate_backend) while ingest is mapping surrogates, on a real server. The
run must fail with an error that says what happened and what to do; the rerun must complete,
and then every file is accounted for, each patient has one surrogate, the file records match the
raw zone, and the ledger chain (in PostgreSQL) verifies.
"""

from __future__ import annotations

import csv
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from pipelines.cli import main
from skinrisk.layout import StateLayout
from tests.conftest import REPO
from tests.helpers.invariants import assert_reconciled, landing_files
from tests.helpers.postgres import database_url, fresh_database, terminate_sessions

psycopg = pytest.importorskip("psycopg", reason="psycopg is in the ml environment only")

pytestmark = [pytest.mark.ml, pytest.mark.slow]


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with fresh_database() as name:
        monkeypatch.setenv("SKINRISK_DATABASE_URL", database_url(name, "skinrisk_ingest"))
        yield name


def _cut_when(database: str, ready: str, done: threading.Event, stop: threading.Event) -> None:
    """Cut every session of ``database`` once the query ``ready`` answers true."""
    with psycopg.connect(database_url(database), autocommit=True) as watch:
        while not stop.is_set():
            if watch.execute(ready).fetchone()[0]:
                terminate_sessions(database)
                done.set()
                return
            time.sleep(0.002)


def test_sessions_cut_mid_ingest_fail_clearly_and_the_rerun_reconciles(
        database: str, state_home: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"extends": str(REPO / "params-small.yaml")}))
    landing = tmp_path / "landing"
    assert main(["synth", "--out", str(landing / "b1"), "--truth", str(tmp_path / "b1.csv"),
                 "--images", "60", "--params", str(params)]) == 0
    capsys.readouterr()

    cut, stop = threading.Event(), threading.Event()
    watcher = threading.Thread(target=_cut_when, args=(
        database, "SELECT count(*) >= 3 FROM identity.patients", cut, stop), daemon=True)
    watcher.start()
    try:
        code = main(["ingest", "--landing", str(landing), "--params", str(params)])
    finally:
        stop.set()
        watcher.join(10)
    assert cut.is_set(), "the sessions were never cut: the fault was not injected"
    err = capsys.readouterr().err
    assert code != 0, "ingest reported success although its database sessions were cut"
    assert "metadata database" in err and "Rerun when the server answers" in err, err[-2000:]
    layout = StateLayout.from_env()
    assert not (layout.raw / "b1" / "report.json").exists()  # nothing half-committed

    assert main(["ingest", "--landing", str(landing), "--params", str(params)]) == 0
    sent = landing_files(landing / "b1")
    assert_reconciled(state_home, {"b1": sent})
    report = json.loads((layout.raw / "b1" / "report.json").read_text())
    with psycopg.connect(database_url(database), autocommit=True) as db:
        files = db.execute("SELECT outcome, image_id FROM identity.files WHERE batch_id = 'b1'"
                           ).fetchall()
        patients = db.execute("SELECT count(*), count(DISTINCT surrogate) FROM "
                              "identity.patients").fetchone()
    # One record per file received, as committed; the accepted ones name the stored images.
    assert len(files) == report["files_in"] == sent
    accepted = {image for outcome, image in files if outcome == "accepted"}
    stored = {row["image_id"] for row in pq.read_table(layout.raw / "b1" / "images.parquet")
              .select(["image_id"]).to_pylist()}
    assert accepted == stored and len(stored) == report["accepted"]
    # The map is one surrogate per patient key, across the cut and the rerun.
    with (landing / "b1" / "manifest.csv").open(newline="") as handle:
        sent_patients = {row["patient_id"] for row in csv.DictReader(handle)}
    assert patients[0] == patients[1] == len(sent_patients)
    assert main(["audit", "verify"]) == 0  # the chain in ledger.entries verifies


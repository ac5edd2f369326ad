"""Both DAGs end to end with `airflow dags test` (SQLite metadata) on a tiny cohort: what
landed in the dataset, the asset event, the MLflow run, the decision record and the report."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest
import yaml

from pipelines.airflow_local import LocalAirflow
from pipelines.cli import main
from skinrisk.layout import StateLayout
from tests.conftest import REPO
from tests.helpers.batches import write_batch
from tests.helpers.canary import canary, hostile_rows
from tests.helpers.privacy import leaks, outputs

pytestmark = [pytest.mark.ml, pytest.mark.slow]


def test_ingest_then_retrain_through_airflow(state_home: Path, tmp_path: Path, pad_dir: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({
        "extends": str(REPO / "params-small.yaml"),
        "train": {"image_size": 71, "epochs": 2, "max_images": 40},
        "evaluate": {"bootstrap_resamples": 200},
    }))
    layout = StateLayout.from_env()
    assert main(["synth", "--out", str(layout.landing / "b1"), "--truth",
                 str(tmp_path / "b1.csv"), "--images", "60", "--seed", "11",
                 "--params", str(params)]) == 0
    # Real clinical photos too: PAD-UFES-20's file names carry its patient ids.
    assert main(["import-pad", "--source", str(pad_dir), "--out",
                 str(layout.landing / "pad"), "--limit", "20", "--params", str(params)]) == 0
    # And canaries planted in every column (tests/integration/test_canary.py), on to training,
    # evaluation, promotion and the audit.
    assert main(["synth", "--out", str(tmp_path / "src"), "--truth", str(tmp_path / "s.csv"),
                 "--images", "12", "--seed", "4", "--params", str(params)]) == 0
    files, rows = hostile_rows([p.read_bytes() for p in sorted((tmp_path / "src").rglob("*.jpg"))])
    write_batch(layout.landing, "h1", files, rows)
    airflow = LocalAirflow(layout, str(params))
    airflow.prepare()

    ingest = airflow.dags_test("skinrisk_ingest", "t1")
    assert ingest.state == "success", ingest.log
    assert {"pending", "ingest", "quality", "validate", "split", "pack", "version",
            "publish"} <= set(ingest.tasks)
    report = json.loads((layout.raw / "b1" / "report.json").read_text())
    curated = json.loads((layout.curated / "quality_report.json").read_text())
    pad = json.loads((layout.raw / "pad" / "report.json").read_text())
    assert report["files_in"] == 60 == report["accepted"] + report["quarantined_files"]
    assert pad["files_in"] == 20 == pad["accepted"] + pad["quarantined_files"]
    hostile = json.loads((layout.raw / "h1" / "report.json").read_text())
    assert curated["images_in"] == report["accepted"] + pad["accepted"] + hostile["accepted"]
    tags = (layout.workspace / ".git" / "refs" / "tags").iterdir()
    assert [t.name for t in tags] == ["data-v1"]
    with sqlite3.connect(layout.home / "airflow" / "airflow.db") as db:
        extras = [json.loads(row[0]) for row in db.execute("select extra from asset_event")]
    assert extras and extras[-1]["tag"] == "data-v1"
    assert extras[-1]["shards_md5"].endswith(".dir")

    retrain = airflow.dags_test("skinrisk_retrain", "t1")
    assert retrain.state == "success", retrain.log
    assert {"retrain_check", "train", "evaluate", "promote", "report"} <= set(retrain.tasks)
    mlflow.set_tracking_uri(f"sqlite:///{layout.mlflow / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["skinrisk"], output_format="list")
    assert len(runs) == 1
    run = runs[0]
    assert run.data.tags["airflow.dag_id"] == "skinrisk_retrain"
    assert run.data.tags["airflow.task_id"] == "train"
    assert run.data.tags["data.version"] == "data-v1"
    decisions = [json.loads(p.read_text()) for p in layout.decisions.glob("*.json")]
    assert len(decisions) == 1 and decisions[0]["verdict"] in ("promote", "reject")
    assert decisions[0]["first_model"] and decisions[0]["challenger"]["run_id"] == run.info.run_id
    assert f"airflow.run_id={retrain.run_id}" in decisions[0]["triggered_by"]
    reports = list((layout.reports / "skinrisk_retrain").glob("*/report.json"))
    assert len(reports) == 1
    summary = json.loads(reports[0].read_text())
    assert summary["outcome"] == decisions[0]["verdict"] and summary["failures"] == []

    # The audit ledger holds every stage's event, chained, and no source patient id anywhere.
    assert main(["audit", "verify"]) == 0
    events = [json.loads(line)["event"] for line in
              (layout.ledger / "ledger.jsonl").read_text().splitlines()]
    for kind in ("batch_ingested", "quality", "dataset_version", "training_run", "evaluation",
                 "gate_decision"):
        assert kind in events, kind
    # The audit trail of the model, and of a PAD photo asked for by its received name.
    assert main(["audit", "model", "1"]) == 0
    pad_rows = list(csv.DictReader((layout.landing / "pad" / "manifest.csv").open()))
    assert main(["audit", "image", pad_rows[0]["file_name"]]) == 0

    # No source patient id in anything skinrisk wrote (ledger, MLflow store and artifacts,
    # DVC cache and remote, reports, decisions, audits, Airflow's logs and database) or said.
    ids = {r["patient_id"] for r in pad_rows} | {
        r["patient_id"] for r in csv.DictReader((layout.landing / "b1" / "manifest.csv").open())}
    assert any(i.startswith("PAT_") for i in ids) and any(i.startswith("MRN") for i in ids)
    ids |= {canary(n) for n in range(60)}
    scanned = [p for p in outputs(layout.home) if not p.is_relative_to(layout.landing)]
    assert any(p.is_relative_to(layout.mlflow / "artifacts") for p in scanned)
    assert any(p.is_relative_to(layout.home / "airflow") for p in scanned)
    assert any(p.is_relative_to(layout.home / "audits") for p in scanned)
    assert leaks(scanned, ids, layout.home) == []
    assert {ingest.log, retrain.log} <= set(scanned)  # the DAG runs' task logs were scanned
    # The scan sees identifiers where they are allowed to be: the landing zone, private store.
    assert leaks([layout.landing / "pad" / "manifest.csv",
                  layout.private / "identity.sqlite"], ids, layout.home)

    # Nothing new landed: ingest skips after listing; the retrain check then skips training.
    again = airflow.dags_test("skinrisk_ingest", "t2")
    assert again.state == "success" and "ingest" not in again.tasks
    # Whatever the verdict, a version already trained on is not trained again.
    skipped = airflow.dags_test("skinrisk_retrain", "t2")
    assert "train" not in skipped.tasks and "report" in skipped.tasks
    assert len(mlflow.search_runs(experiment_names=["skinrisk"], output_format="list")) == 1
    latest = max((layout.reports / "skinrisk_retrain").glob("*/report.json"),
                 key=lambda p: p.stat().st_mtime)
    assert json.loads(latest.read_text())["outcome"].startswith("skipped: model version")

"""Cases 9 and 10: a batch that is all bad, and a batch whose labels drift hard."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from pipelines.airflow_local import LocalAirflow
from pipelines.cli import main
from skinrisk.layout import StateLayout
from skinrisk.reports import run_folder
from tests.conftest import REPO, data_dir
from tests.helpers.invariants import assert_invariants, landing_files

pytestmark = [pytest.mark.ml, pytest.mark.slow]


def _params(folder: Path, **sections: dict) -> Path:
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump({"extends": str(REPO / "params-small.yaml"), **sections}))
    return path


def test_an_all_bad_batch_is_quarantined_whole_reported_and_trains_nothing(
        state_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # validate fails here on purpose and is retried twice; at the production delay (30 s,
    # doubling) the wait was most of this test's three minutes.
    monkeypatch.setenv("SKINRISK_RETRY_DELAY_S", "1")
    params = _params(tmp_path)
    layout = StateLayout.from_env()
    assert main(["synth", "--out", str(layout.landing / "bad"), "--truth",
                 str(tmp_path / "t.csv"), "--images", "12", "--defect", "corrupt=1.0",
                 "--params", str(params)]) == 0
    airflow = LocalAirflow(layout, str(params))
    airflow.prepare()

    ingest = airflow.dags_test("skinrisk_ingest", "bad")
    report = json.loads((layout.raw / "bad" / "report.json").read_text())
    assert report["accepted"] == 0 and report["quarantined_files"] == 12
    assert report["by_reason"] == {"unreadable": 12}
    quarantined = pq.read_table(layout.raw / "bad" / "quarantine.parquet").to_pylist()
    assert len(quarantined) == 12 and all(q["reason"] for q in quarantined)
    assert len(list((layout.quarantine / "bad").iterdir())) == 12  # kept, as received
    # Validation refuses the empty batch (its task fails, the failure lands in the run's
    # report folder); the rest of the run goes on without it (fail closed), to a version.
    with sqlite3.connect(layout.home / "airflow" / "airflow.db") as db:
        states = dict(db.execute("select task_id, state from task_instance where run_id = ?",
                                 [ingest.run_id]).fetchall())
    assert states["validate"] == "failed" and states["version"] == "success", states
    failures = run_folder(layout, "skinrisk_ingest", ingest.run_id) / "failures.jsonl"
    assert "validate" in failures.read_text()

    retrain = airflow.dags_test("skinrisk_retrain", "bad")
    assert retrain.state == "success", retrain.log[-3000:]
    assert "train" not in retrain.tasks and "report" in retrain.tasks
    summary = json.loads(next((layout.reports / "skinrisk_retrain").glob("*/report.json"))
                         .read_text())
    assert summary["outcome"].startswith("skipped: no champion yet: 0 training images")
    assert_invariants(state_home, {"bad": landing_files(layout.landing / "bad")})


def test_a_batch_that_is_all_melanoma_is_stopped_by_validation_when_drift_fails(
        state_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    params = _params(tmp_path, validate={"on_drift": "fail"})
    p = ["--params", str(params)]
    landing = tmp_path / "landing"
    assert main(["synth", "--out", str(landing / "b1"), "--truth", str(tmp_path / "b1.csv"),
                 "--images", "60", "--seed", "1", *p]) == 0
    assert main(["ingest", "--landing", str(landing), *p]) == 0
    for stage in ("quality", "validate"):
        assert main([stage, *p]) == 0, stage
    # The next batch: every photo a melanoma.
    skewed = tmp_path / "skewed.yaml"
    skewed.write_text(yaml.safe_dump({"extends": str(params),
                                      "synth": {"tumor_types": ["malignant_melanoma"]}}))
    assert main(["synth", "--out", str(landing / "b2"), "--truth", str(tmp_path / "b2.csv"),
                 "--images", "30", "--seed", "2", "--params", str(skewed)]) == 0
    assert main(["ingest", "--landing", str(landing), *p]) == 0
    assert main(["quality", *p]) == 0
    capsys.readouterr()
    assert main(["validate", *p]) == 1
    verdict = json.loads((data_dir(state_home) / "curated" / "validation" / "b2" /
                          "verdict.json").read_text())
    assert verdict["status"] == "failed"
    assert {"tumor_type", "grade"} <= {d["feature"] for d in verdict["drift"]
                                       if d["value"] > d["threshold"]}
    assert main(["split", *p]) == 0
    assert "leaving out batch(es) not validated or failed: b2" in capsys.readouterr().err
    split = pq.read_table(data_dir(state_home) / "splits" / "assignments.parquet").to_pylist()
    assert split and {r["batch_id"] for r in split} == {"b1"}
    assert_invariants(state_home, {b: landing_files(landing / b) for b in ("b1", "b2")})

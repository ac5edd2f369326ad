"""Case 5: the MLflow server goes down during training and during promotion — the task fails
with a clear error and nothing half-done (no model registered, no alias moved); after the
server is back, the rerun (Airflow's retry) completes from where it was.

A real `mlflow server` process; the stage kills it (its whole process group) at a named point
and runs on into the outage.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.crash import run_skinrisk
from tests.helpers.invariants import assert_invariants
from tests.helpers.mlflow_server import MlflowServer
from tests.reliability.conftest import copy_stage, ok

pytestmark = [pytest.mark.ml, pytest.mark.slow]
# Fail within seconds while the server is down (MLflow's defaults retry for minutes), but
# retry twice: with none, a request on a pooled connection the server has just closed (its
# keep-alive timeout) fails as if the server were down, and the rerun under test with it.
FAST = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
        "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}


def _client(server: MlflowServer):
    import mlflow

    return mlflow.MlflowClient(tracking_uri=server.uri, registry_uri=server.uri)


def _experiments(server: MlflowServer) -> list[str]:
    return [e.experiment_id for e in _client(server).search_experiments()]


def _events(home: Path) -> list[str]:
    return [json.loads(line)["event"]
            for line in (home / "ledger" / "ledger.jsonl").read_text().splitlines()]


def test_mlflow_down_before_the_model_is_logged_then_the_rerun_completes_the_run(
        stages: dict[str, Path], tmp_path: Path) -> None:
    p = ["--params", str(stages["params"])]
    home = copy_stage(stages, "packed", tmp_path / "state")
    ok(home, "version")
    server = MlflowServer(tmp_path / "mlflow.db", tmp_path / "artifacts").start()
    try:
        env = {**FAST, "MLFLOW_TRACKING_URI": server.uri}
        failed = run_skinrisk(home, ["train", *p], kill=server.group, extra=env,
                              crash="skinrisk.training.tracked:log_model:before")
        server.stop()
        assert failed.returncode == 1, failed.stderr[-3000:]
        err = failed.stderr.replace("\n", " ")
        assert f"MLflow ({server.uri}) failed" in err and "Traceback" not in err, err[-2000:]
        assert "training_run" not in _events(home)

        server.start()  # the same store, the same port
        runs = _client(server).search_runs(_experiments(server))
        assert len(runs) == 1 and runs[0].info.status != "FINISHED"
        ok(home, "train", *p, extra=env)  # resumes: the epochs are done, it logs the model
        ok(home, "evaluate", *p, extra=env)
        client = _client(server)
        runs = client.search_runs(_experiments(server))
        assert len(runs) == 1 and runs[0].info.status == "FINISHED"
        versions = client.search_model_versions("name='skinrisk-xception'")
        assert [v.status for v in versions] == ["READY"]
        assert _events(home).count("training_run") == 1
    finally:
        server.stop()
    assert_invariants(home)


def test_mlflow_down_during_promotion_moves_nothing_and_the_retry_applies_the_decision(
        stages: dict[str, Path], tmp_path: Path) -> None:
    p = ["--params", str(stages["params"])]
    home = copy_stage(stages, "evaluated", tmp_path / "state")
    # The same registry served by a server: the snapshot's SQLite store behind `mlflow server`.
    server = MlflowServer(home / "mlflow" / "mlflow.db", tmp_path / "artifacts").start()
    try:
        env = {**FAST, "MLFLOW_TRACKING_URI": server.uri}
        failed = run_skinrisk(home, ["promote", *p],
                              crash="skinrisk.promotion.registry:apply_promotion:before",
                              kill=server.group, extra=env)
        server.stop()
        assert failed.returncode == 1, failed.stdout[-3000:] + failed.stderr[-3000:]
        assert "MLflow (" in failed.stderr and "Traceback" not in failed.stderr
        assert _events(home)[-1] == "gate_decision"  # decided and recorded, not applied

        server.start()
        version = _client(server).get_model_version("skinrisk-xception", "1")
        assert "champion" not in version.aliases  # no alias moved during the outage
        retried = ok(home, "promote", *p, extra=env)
        assert "interrupted run" in retried
        version = _client(server).get_model_version("skinrisk-xception", "1")
        assert "champion" in version.aliases
        assert _events(home)[-2:] == ["gate_decision", "alias_moved"]
    finally:
        server.stop()
    assert_invariants(home)

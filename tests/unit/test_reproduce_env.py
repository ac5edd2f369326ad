"""`skinrisk audit reproduce` runs the recorded code in a scratch home: nothing may point it at
production state, or it would take production's checkpoints, ledger or database for its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from skinrisk.audit.reproduce import _environment


def test_the_reproduction_sees_no_production_setting(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    production = {"SKINRISK_WORK_URL": "s3://skinrisk-work/pipeline",
                  "SKINRISK_DATABASE_URL": "postgresql://ingest@db/skinrisk",
                  "SKINRISK_DATABASE_ADMIN_URL": "postgresql://owner@db/skinrisk",
                  "SKINRISK_DVC_REMOTE": "s3://skinrisk-dvc/store",
                  "SKINRISK_GIT_REMOTE": "git://git/skinrisk-data.git",
                  "SKINRISK_LEDGER_ARCHIVE": "s3://skinrisk-dvc/store/ledger/",
                  "SKINRISK_SOMETHING_NEW": "whatever a later release reads",
                  "MLFLOW_TRACKING_URI": "http://mlflow:5000", "MLFLOW_RUN_ID": "abc",
                  "AIRFLOW_CTX_DAG_ID": "skinrisk_retrain"}
    for key, value in production.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SKINRISK_DVC", "/opt/skinrisk/.venvs/airflow/bin/dvc")
    env = _environment(tmp_path / "home", tmp_path / "code")
    assert not set(production) & set(env)
    assert env["SKINRISK_DVC"] == "/opt/skinrisk/.venvs/airflow/bin/dvc"
    assert env["SKINRISK_HOME"] == str(tmp_path / "home")
    assert env["PYTHONPATH"] == str(tmp_path / "code")

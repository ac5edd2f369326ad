"""The DAGs as Airflow loads them: no import errors, the house policies, nothing heavy at parse.

Runs in the orchestrator environment (Airflow is not in the ml environment)."""

from __future__ import annotations

import datetime as dt
import sys

import pytest

from tests.conftest import REPO

pytest.importorskip("airflow", reason="Airflow lives in the orchestrator environment")


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory: pytest.TempPathFactory):
    import os

    os.environ.setdefault("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow")))
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    sys.path.insert(0, str(REPO / "dags"))  # as the dag processor does for the dags folder
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_every_dag_loads_without_import_errors(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert set(dagbag.dags) == {"skinrisk_ingest", "skinrisk_retrain"}


def test_parsing_imports_neither_tensorflow_nor_the_stages(tmp_path) -> None:
    import json
    import os
    import subprocess

    # A fresh interpreter: this test process has imported skinrisk's stages for other tests.
    script = (
        "import json, sys; sys.path.insert(0, sys.argv[1])\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        "bag = DagBag(dag_folder=sys.argv[1])\n"
        "print(json.dumps({'dags': sorted(bag.dags), 'modules': sorted(sys.modules)}))\n")
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    result = subprocess.run([sys.executable, "-c", script, str(REPO / "dags")], env=env,
                            capture_output=True, text=True, check=True, timeout=300)
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["dags"] == ["skinrisk_ingest", "skinrisk_retrain"]
    heavy = [m for m in ("tensorflow", "keras", "tensorflow_data_validation", "mlflow",
                         "pipelines", "skinrisk.training", "cv2") if m in loaded["modules"]]
    assert heavy == []


def test_owners_tags_docs_retries_timeouts_and_failure_callbacks(dagbag) -> None:
    for dag in dagbag.dags.values():
        assert dag.dag_id.startswith("skinrisk_") and "skinrisk" in dag.tags
        assert dag.doc_md and len(dag.doc_md) > 200
        assert dag.max_active_runs == 1 and not dag.catchup
        for task in dag.tasks:
            assert task.owner == "skinrisk-mlops", task.task_id
            assert task.retries >= 1, task.task_id
            assert task.retry_exponential_backoff, task.task_id
            assert task.execution_timeout and task.execution_timeout <= dt.timedelta(days=1)
            assert task.on_failure_callback, task.task_id


def test_writers_promotion_and_training_are_pooled_and_training_goes_to_the_gpu_queue(
        dagbag) -> None:
    ingest, retrain = dagbag.dags["skinrisk_ingest"], dagbag.dags["skinrisk_retrain"]
    for task_id in ("ingest", "quality", "split", "pack", "version"):
        assert ingest.get_task(task_id).pool == "skinrisk_data_writes", task_id
    for task_id in ("train", "evaluate"):  # evaluation: inference, and no identity-map login
        task = retrain.get_task(task_id)
        assert task.pool == "gpu" and task.queue == "gpu", task_id
        # Both grade the data version the retrain check saw (a cloned workspace reads it).
        assert "xcom_pull(task_ids='retrain_check')['current_version']" in task.env[
            "SKINRISK_DATA_VERSION"], task_id
        assert task.append_env is True, task_id
    assert retrain.get_task("promote").pool == "skinrisk_promote"
    assert retrain.get_task("report").trigger_rule == "all_done"


def test_every_stage_task_runs_the_stage_command_in_the_ml_environment(dagbag) -> None:
    import inspect

    commands = {}
    for dag in dagbag.dags.values():
        for task in dag.tasks:
            if task.task_type != "_BashDecoratedOperator":
                continue
            args = {name: ({} if name == "check" else "b1")
                    for name in inspect.signature(task.python_callable).parameters}
            commands[task.task_id] = task.python_callable(**args)
    assert commands["train"].endswith("/.venvs/ml/bin/skinrisk train")
    assert commands["ingest"].endswith("/.venvs/ml/bin/skinrisk ingest --batch b1")
    assert set(commands) >= {"pending", "ingest", "quality", "validate", "split", "pack",
                             "version", "retrain_check", "train", "evaluate", "promote",
                             "report"}
    assert all(" skinrisk " not in c and "/.venvs/ml/bin/skinrisk " in c
               for c in commands.values())


def test_the_retrain_dag_is_scheduled_on_the_curated_asset_with_a_calendar_fallback(
        dagbag) -> None:
    retrain = dagbag.dags["skinrisk_retrain"]
    ingest = dagbag.dags["skinrisk_ingest"]
    assert [o.name for o in ingest.get_task("publish").outlets] == ["skinrisk/curated"]
    schedule = retrain.timetable
    assert type(schedule).__name__ == "AssetOrTimeSchedule"
    assert "skinrisk/curated" in str(schedule.asset_condition)
    assert schedule.timetable.expression == "0 3 * * 0"


def test_the_embedded_airflow_creates_the_pools_the_dags_use(dagbag) -> None:
    from skinrisk_common import POOLS as DECLARED

    from pipelines.airflow_local import POOLS as CREATED

    used = {t.pool for d in dagbag.dags.values() for t in d.tasks} - {"default_pool"}
    assert used == set(DECLARED) == set(CREATED)

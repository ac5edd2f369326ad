"""
### skinrisk_retrain — a challenger trained, evaluated and put to the gate

Runs when `skinrisk_ingest` publishes a new **skinrisk/curated** dataset version, and every
Sunday 03:00 UTC as a fallback. It first checks whether enough new training images arrived
since the champion's dataset version (`retrain.min_new_images`; always when there is no
champion) and skips the rest when not. Then: train Xception on a GPU worker (queue `gpu`, or a
Kubernetes pod with `nvidia.com/gpu`; the `gpu` pool bounds concurrent trainings; a retried
task resumes from its last epoch checkpoint), evaluate on the held-out, cross-ethnic and OOD
sets and register the challenger, promote through the gate (the one-slot `skinrisk_promote`
pool and a lock: one promotion at a time), and write the run's report.

One run at a time (max_active_runs=1). Every task runs the stage command dvc.yaml runs.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, task
from skinrisk_common import (
    CURATED,
    GPU_POOL,
    OWNER,
    PROMOTE_POOL,
    default_args,
    gpu_routing,
    json_last_line,
    skinrisk,
    stage_task_args,
)

STAGE = stage_task_args()
# Training, evaluation and the gate grade the version the check saw, even when a newer one
# lands during the run (read where a task clones its workspace: SKINRISK_WORKSPACE=clone).
PINNED = {"env": {"SKINRISK_DATA_VERSION":
                  "{{ ti.xcom_pull(task_ids='retrain_check')['current_version'] }}"}}


@dag(
    dag_id="skinrisk_retrain",
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("0 3 * * 0", timezone="UTC"),
                                 assets=CURATED),
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["skinrisk", "training", "gate"],
    doc_md=__doc__,
    owner_links={OWNER: "https://github.com/skinrisk/skinrisk/blob/main/infra/README.md"},
)
def skinrisk_retrain():
    @task.bash(output_processor=json_last_line, execution_timeout=dt.timedelta(minutes=10),
               **STAGE)
    def retrain_check() -> str:
        return skinrisk("retrain-check")

    # Skips only train (and, by their trigger rules, evaluate and promote); report still runs.
    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def enough_new_data(check: dict) -> bool:
        return bool(check["retrain"])

    # Its last stdout line (run key, MLflow run) is the XCom the report finds the training by.
    @task.bash(pool=GPU_POOL, retries=3, execution_timeout=dt.timedelta(hours=24),
               output_processor=json_last_line, **gpu_routing(), **PINNED, **STAGE)
    def train() -> str:
        return skinrisk("train")

    # On GPU capacity too: grading the test sets is inference, and the GPU workers hold the
    # pipeline's database login, never the one that may read the identity map.
    @task.bash(pool=GPU_POOL, execution_timeout=dt.timedelta(hours=2), **gpu_routing(),
               **PINNED, **STAGE)
    def evaluate() -> str:
        return skinrisk("evaluate")

    @task.bash(pool=PROMOTE_POOL, execution_timeout=dt.timedelta(hours=2), **PINNED, **STAGE)
    def promote() -> str:
        return skinrisk("promote")

    @task.bash(trigger_rule="all_done", retries=1, execution_timeout=dt.timedelta(minutes=10),
               env={"SKINRISK_TRAINED": "{{ ti.xcom_pull(task_ids='train') | tojson }}"},
               **STAGE)
    def report(check: dict) -> str:
        import json

        return skinrisk("report", "--retrain-check", json.dumps(check))

    check = retrain_check()
    trained, evaluated, promoted = train(), evaluate(), promote()
    enough_new_data(check) >> trained >> evaluated >> promoted >> report(check)


skinrisk_retrain()

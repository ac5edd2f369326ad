"""What the skinrisk DAGs share: how a task runs a stage command, retries, pools, routing.

Wiring only. Every task runs `skinrisk <stage>` — the command dvc.yaml runs — with the ml
environment's interpreter, as a subprocess, so parsing a DAG imports neither TensorFlow nor
skinrisk's stages. Deployment settings come from the worker's environment:

| variable | default | meaning |
|---|---|---|
| SKINRISK_ML_BIN | <checkout>/.venvs/ml/bin | the ml environment's bin/ ("": `skinrisk` on PATH) |
| SKINRISK_REPO | the checkout above dags/ | working directory of the stage commands (params.yaml) |
| SKINRISK_GPU_QUEUE | gpu | Celery queue of the GPU workers |
| SKINRISK_GPU_ROUTING | queue | `queue` (Celery) or `pod` (Kubernetes executor pod override) |
| SKINRISK_RETRY_DELAY_S | 30 | first retry's delay in seconds (doubles per try; tests shorten it) |
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
from pathlib import Path
from typing import Any

from airflow.sdk import Asset

CHECKOUT = Path(__file__).resolve().parents[1]
# The curated dataset: skinrisk_ingest's version task emits it (extra: tag, commit, DVC hashes);
# skinrisk_retrain is scheduled on it.
CURATED = Asset("skinrisk/curated", uri="skinrisk://curated", group="skinrisk")
OWNER = "skinrisk-mlops"

# Pools (created by `make demo`, infra/compose and the Helm values): writers of the DVC/git
# workspace and the raw zone one at a time, promotions one at a time, trainings bounded by GPUs.
DATA_WRITES_POOL = "skinrisk_data_writes"
PROMOTE_POOL = "skinrisk_promote"
GPU_POOL = "gpu"
POOLS = {DATA_WRITES_POOL: (1, "DVC/git workspace and raw-zone writers, one at a time"),
         PROMOTE_POOL: (1, "champion alias moves, one at a time"),
         GPU_POOL: (1, "concurrent trainings (one per GPU worker)")}


def skinrisk(*args: str) -> str:
    """The shell command that runs one stage in the ml environment."""
    ml_bin = os.environ.get("SKINRISK_ML_BIN", str(CHECKOUT / ".venvs" / "ml" / "bin"))
    program = str(Path(ml_bin) / "skinrisk") if ml_bin else "skinrisk"
    return " ".join(shlex.quote(a) for a in (program, *args))


def record_failure(context: dict[str, Any]) -> None:
    """on_failure_callback: append the failure to the run's report (reports/<dag>/<run>/)."""
    from skinrisk.layout import StateLayout
    from skinrisk.reports import append_failure

    ti = context.get("task_instance") or context.get("ti")
    dag_run = context.get("dag_run")
    append_failure(StateLayout.from_env(), getattr(ti, "dag_id", "unknown"),
                   getattr(dag_run, "run_id", "unknown"), getattr(ti, "task_id", "unknown"),
                   getattr(ti, "try_number", None), repr(context.get("exception")))


def default_args(retries: int = 2) -> dict[str, Any]:
    return {
        "owner": OWNER,
        "retries": retries,
        "retry_delay": dt.timedelta(seconds=int(os.environ.get("SKINRISK_RETRY_DELAY_S", "30"))),
        "retry_exponential_backoff": True,
        "max_retry_delay": dt.timedelta(minutes=20),
        "execution_timeout": dt.timedelta(hours=1),
        "on_failure_callback": record_failure,
    }


def stage_task_args() -> dict[str, Any]:
    """Bash-task arguments every stage shares: cwd, the worker's environment passed through."""
    return {"cwd": os.environ.get("SKINRISK_REPO", str(CHECKOUT)), "append_env": True}


def gpu_routing() -> dict[str, Any]:
    """Send training to GPU capacity: a Celery queue, or a Kubernetes pod override."""
    if os.environ.get("SKINRISK_GPU_ROUTING", "queue") == "pod":
        from kubernetes.client import models as k8s  # only where the executor is Kubernetes

        container = k8s.V1Container(name="base", resources=k8s.V1ResourceRequirements(
            limits={"nvidia.com/gpu": "1"}))
        pod = k8s.V1Pod(spec=k8s.V1PodSpec(
            containers=[container], node_selector={"skinrisk/gpu": "true"},
            tolerations=[k8s.V1Toleration(key="nvidia.com/gpu", operator="Exists",
                                          effect="NoSchedule")]))
        return {"executor_config": {"pod_override": pod}}
    return {"queue": os.environ.get("SKINRISK_GPU_QUEUE", "gpu")}


def json_last_line(output: str) -> Any:
    """A stage command's last stdout line (its JSON result) as the task's XCom."""
    import json

    return json.loads(output.strip().splitlines()[-1])

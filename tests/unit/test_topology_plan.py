"""The local stack (infra/topology) speaks compose's language: the same variable names, queue
names and pools; names unique per stack; secrets generated, never fixed. Nothing is started."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from infra.topology.processes import QUEUES, airflow_env, commands, plan, skinrisk_env
from tests.conftest import REPO

COMPOSE = yaml.safe_load((REPO / "infra" / "compose" / "compose.yaml").read_text())


def test_the_stack_sets_every_variable_compose_sets(tmp_path: Path) -> None:
    top = plan(tmp_path, "params.yaml")
    assert set(COMPOSE["x-airflow-env"]) <= set(airflow_env(top))
    procs = commands(top)
    for worker in QUEUES:  # the wiped folders and clone mode are each worker's own settings
        assert set(COMPOSE["x-skinrisk-env"]) <= set(procs[worker][1]), worker
    assert set(skinrisk_env(top)) <= set(COMPOSE["x-skinrisk-env"])
    assert airflow_env(top)["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def test_queues_and_pools_are_the_deployments(tmp_path: Path) -> None:
    services = COMPOSE["services"]
    compose_queues = {services[w]["command"][services[w]["command"].index("--queues") + 1]
                      for w in ("airflow-worker-cpu", "airflow-worker-gpu")}
    assert set(QUEUES.values()) == {q.replace("${SKINRISK_GPU_QUEUE:-gpu}", "gpu")
                                    for q in compose_queues}
    argv = {name: cmd for name, (cmd, _env) in commands(plan(tmp_path, "p.yaml")).items()}
    for worker, queue in QUEUES.items():
        assert argv[worker][argv[worker].index("--queues") + 1] == queue
    pools = json.loads((REPO / "infra" / "airflow" / "pools.json").read_text())
    assert set(pools) == {"skinrisk_data_writes", "skinrisk_promote", "gpu"}


def test_two_stacks_share_no_name_port_or_secret(tmp_path: Path) -> None:
    one, two = plan(tmp_path / "a", "p.yaml"), plan(tmp_path / "b", "p.yaml")
    assert one.suffix != two.suffix
    assert one.database("airflow") != two.database("airflow")
    assert set(one.secrets.values()).isdisjoint(two.secrets.values())
    prefix = "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX"
    assert airflow_env(one)[prefix] != airflow_env(two)[prefix]
    assert one.worker_name("worker-gpu") != one.worker_name("worker-default")
    # Nothing of the caller's shell that points at another store reaches the stack.
    env = commands(one)["worker-gpu"][1]
    assert env["MLFLOW_TRACKING_URI"] == one.mlflow and env["AWS_ENDPOINT_URL_S3"] == one.s3

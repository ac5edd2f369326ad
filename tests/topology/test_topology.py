"""Both DAGs on the production topology (infra/topology): Airflow 3 on PostgreSQL with Celery
workers on queues `default` and `gpu`, an MLflow server on PostgreSQL with S3 artifacts, the DVC
remote, the landing zone and the working prefix (training checkpoints) on an S3 API, the
identity map and the ledger in PostgreSQL with one login per worker, the data repository behind
a git server (git daemon). The GPU worker has a disk of its own, wiped before and after every
task (pipelines/celery_worker.py): its tasks clone the data version they need (git server, S3)
and take the model from the working prefix. Triggered through the REST API, like an operator.

The tests share one stack and run in order: ingest, then one retrain run that goes through two
faults — its GPU worker killed mid-training (the retry on the restarted worker starts on a
wiped disk and resumes from the checkpoint on the S3 working prefix) and the MLflow server
killed at the alias move (the task fails, nothing moves, the retry after the server is back
applies the decision) — while later retrain triggers wait.

Unpausing a DAG (PATCH through the API) makes the scheduler start its latest scheduled run at
once (catchup=False), so the run that does the work may be that one rather than the one the
test triggered: the tests take the run that started first and check that every other run,
triggered ones included, waited for it to end (max_active_runs=1) and then had nothing to do.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

import boto3
import psycopg
import pytest

from infra.topology import gitserver
from infra.topology.processes import BUCKETS, WORK_URL, Topology, commands, kill, s3_env
from infra.topology.stack import restart_mlflow, start_worker
from pipelines.cli import main
from skinrisk.ledger import verify_entries
from skinrisk.records.ledger import read_entries
from tests.helpers.airflow_api import AirflowApi
from tests.helpers.s3 import upload_batch

pytestmark = [pytest.mark.ml, pytest.mark.slow, pytest.mark.topology]
INGEST, RETRAIN = "skinrisk_ingest", "skinrisk_retrain"
_RUNS: dict[str, str] = {}


def _s3(top: Topology):
    env = s3_env(top)
    return boto3.client("s3", endpoint_url=top.s3, region_name=env["AWS_DEFAULT_REGION"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])


def _keys(top: Topology, bucket: str, prefix: str = "") -> list[str]:
    pages = _s3(top).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def _worker_database(top: Topology, worker: str) -> str:
    """The SKINRISK_DATABASE_URL the worker's tasks get (its own login)."""
    return commands(top)[worker][1]["SKINRISK_DATABASE_URL"]


def _work_prefix() -> str:
    return WORK_URL.removeprefix(f"s3://{BUCKETS['work']}/").rstrip("/") + "/"


def _mlflow_rows(top: Topology, sql: str) -> list[list]:
    """Read MLflow's backend store itself (the stack's PostgreSQL database)."""
    import pg8000.dbapi

    server = urllib.parse.urlsplit(top.postgres)
    db = pg8000.dbapi.connect(user=server.username or "postgres", host=server.hostname,
                              port=server.port or 5432, database=top.database("mlflow"))
    try:
        cursor = db.cursor()
        cursor.execute(sql)
        return [list(row) for row in cursor.fetchall()]
    finally:
        db.close()


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def assert_serialised(tasks: list[dict], pool: str) -> None:
    """No two task instances of a one-slot pool ran at the same time."""
    spans = sorted((_when(t["start_date"]), _when(t["end_date"]), t["task_id"])
                   for t in tasks if t["pool"] == pool and t["start_date"] and t["end_date"])
    assert spans, f"nothing ran in pool {pool}"
    for (_, end, first), (start, _, second) in itertools.pairwise(spans):
        assert start >= end, f"{first} and {second} overlapped in pool {pool}"


@pytest.fixture(scope="module")
def api(stack: Topology) -> AirflowApi:
    client = AirflowApi(stack)
    for dag in (INGEST, RETRAIN):
        client.wait_parsed(dag)
    return client


def test_ingest_on_celery_lands_the_data_version_on_s3(stack: Topology, api: AirflowApi,
                                                       tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    for batch, images in (("hosp-a-1", 160), ("hosp-b-1", 24)):
        assert main(["synth", "--out", str(landing / batch), "--truth", str(tmp_path / "t.csv"),
                     "--images", str(images), "--seed", str(images),
                     "--params", stack.params]) == 0
        upload_batch(_s3(stack), landing / batch, BUCKETS["landing"], "incoming/")
    sent = set(_keys(stack, BUCKETS["landing"], "incoming/"))

    api.unpause(INGEST)  # the scheduler may add the latest scheduled run to the one triggered
    api.trigger(INGEST)
    run_id = _RUNS[INGEST] = one_at_a_time(api, INGEST)
    tasks = api.tasks(INGEST, run_id)
    ran = [t for t in tasks if t["state"] == "success"]
    assert {t["task_id"] for t in ran} >= {"pending", "ingest", "quality", "validate", "split",
                                          "pack", "version", "publish"}
    assert sum(t["task_id"] == "ingest" for t in ran) == 2  # one mapped task per batch
    # Celery ran every task on the default queue's worker, none on the GPU worker.
    assert {(t["queue"], t["hostname"]) for t in ran} == {
        ("default", stack.worker_name("worker-default"))}
    # Both ingests were ready at once; the one-slot pool ran them one after the other.
    assert_serialised(tasks, "skinrisk_data_writes")

    # The landing zone is only read; the data version's objects are in the S3 DVC remote.
    assert set(_keys(stack, BUCKETS["landing"], "incoming/")) == sent
    assert len(_keys(stack, BUCKETS["dvc"], "store/")) > 10
    # Every file in ends accepted or quarantined (the ledger's record of the batch, in the
    # stack's PostgreSQL), each quarantined file as received in its own private bucket.
    ingested = {e["data"]["batch_id"]: e["data"] for e in read_entries(
        _worker_database(stack, "worker-default")) if e["event"] == "batch_ingested"}
    report = ingested["hosp-a-1"]
    assert report["landing"] == f"s3://{BUCKETS['landing']}/incoming/"
    assert report["files_in"] == 160 == report["accepted"] + report["quarantined_files"]
    for batch, counts in ingested.items():
        assert len(_keys(stack, BUCKETS["quarantine"], f"files/{batch}/")) == (
            counts["quarantined_files"]), batch
    # The default worker shared no disk either: every stage cloned the data branch from the
    # git server, pushed what it wrote, and its folders are empty after its last task.
    default_disk = stack.wiped("worker-default")
    assert {name: sorted(p.name for p in folder.iterdir()) for name, folder in
            default_disk.items()} == {name: [] for name in default_disk}
    assert not (stack.home / "workspace").exists()
    # The version's commit and tag went to the git server (git daemon), not to a shared path.
    served = subprocess.run(["git", "ls-remote", "--tags", gitserver.url(stack), "data-v*"],
                            capture_output=True, text=True, check=True).stdout
    assert "refs/tags/data-v1" in served
    assert not (stack.home / "git-remote.git").exists()

    # The identity map is in the stack's PostgreSQL, not on the shared disk; the default
    # worker's login (ingest) reads it, the gpu worker's login may not even look.
    assert not (stack.home / "private" / "identity.sqlite").exists()
    with psycopg.connect(_worker_database(stack, "worker-default"), autocommit=True) as db:
        assert db.execute("SELECT count(*) FROM identity.patients").fetchone()[0] > 0
    with psycopg.connect(_worker_database(stack, "worker-gpu"), autocommit=True) as db, \
            pytest.raises(psycopg.errors.InsufficientPrivilege):
        db.execute("SELECT count(*) FROM identity.patients")


def one_at_a_time(api: AirflowApi, dag_id: str) -> str:
    """The run that started first; every other run of the DAG is queued behind it
    (max_active_runs=1), not run beside it. Returns the first run's id once it ended."""
    first = api.first_started(dag_id)["dag_run_id"]
    waiting = [r for r in api.runs(dag_id) if r["dag_run_id"] != first]
    assert all(r["state"] == "queued" for r in waiting), waiting
    ended = api.wait(dag_id, first, timeout=600)
    assert ended["state"] == "success", api.tasks(dag_id, first)
    for other in waiting:
        assert api.wait(dag_id, other["dag_run_id"], timeout=300)["state"] == "success"
        after = api.run(dag_id, other["dag_run_id"])
        assert _when(after["start_date"]) >= _when(ended["end_date"]), (ended, after)
    return first


def _wait_for(what: str, ready, timeout: float = 300, every: float = 0.5, hopeless=None):
    """Poll `ready` until it returns something true. `hopeless` (optional) returns why waiting
    on is pointless (e.g. the run already failed), which fails the wait at once, with that."""
    deadline = time.monotonic() + timeout
    while not (value := ready()):
        if hopeless and (why := hopeless()):
            pytest.fail(f"gave up waiting for {what}: {why}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)
    return value


def _run_ended(api: AirflowApi, dag_id: str, run_id: str) -> str:
    """Why a wait on the run is pointless: it has ended (with its tasks' states), else ''."""
    run = api.run(dag_id, run_id)
    if run["state"] not in ("success", "failed"):
        return ""
    states = {t["task_id"]: f"{t['state']} (try {t['try_number']})"
              for t in api.tasks(dag_id, run_id)}
    return f"run {run_id} ended {run['state']}; tasks: {states}"


def _mirrored(top: Topology) -> list[str]:
    """Keys of the complete epochs on the working prefix (checkpoints/<run key>/gen-N/epochs/)."""
    return [k for k in _keys(top, BUCKETS["work"], _work_prefix() + "checkpoints/")
            if "/epochs/" in k]


def test_retrain_on_the_gpu_worker_survives_a_killed_worker_and_an_mlflow_outage(
        stack: Topology, api: AirflowApi) -> None:
    import mlflow

    assert _RUNS.get(INGEST), "needs the ingest test's data version"
    once = stack.state / "mlflow-killed"  # tests/topology/conftest.py armed the crash

    api.unpause(RETRAIN)
    api.trigger(RETRAIN)
    api.trigger(RETRAIN)  # a second trigger while the first runs: queued behind it
    run_id = api.first_started(RETRAIN)["dag_run_id"]
    waiting = [r["dag_run_id"] for r in api.runs(RETRAIN) if r["dag_run_id"] != run_id]
    assert waiting

    # Fault 1: kill -9 the GPU worker (and the training it runs) once the first epoch is on the
    # working prefix. The worker's own disk still holds the epoch, but every task starts on a
    # wiped disk (pipelines/celery_worker.py): the retry has only S3 to resume from.
    gpu_disk = stack.wiped("worker-gpu")
    checkpoints = gpu_disk["SKINRISK_HOME"] / "checkpoints"
    _wait_for("the first epoch on the working prefix", lambda: _mirrored(stack), timeout=420,
              every=0.2)
    assert [k.rpartition("/")[2] for k in _mirrored(stack)] == ["0001.json"]
    assert api.task(RETRAIN, run_id, "train")["state"] == "running"
    assert {api.run(RETRAIN, r)["state"] for r in waiting} == {"queued"}
    kill(stack, "worker-gpu")
    left = list(checkpoints.iterdir())
    assert len(left) == 1, f"the killed training's run key on the worker's disk, found {left}"
    killed_key = left[0].name
    start_worker(stack, "worker-gpu")

    # Fault 2: the MLflow server killed just before the alias move; the task fails.
    _wait_for("the MLflow server killed at the alias move", once.exists, timeout=600,
              every=2, hopeless=lambda: _run_ended(api, RETRAIN, run_id))
    _wait_for("promote failing while MLflow is down", lambda: api.task(
        RETRAIN, run_id, "promote")["state"] in ("up_for_retry", "failed"), timeout=120)
    back = datetime.now(UTC)  # nothing can reach MLflow before this: it is still down
    restart_mlflow(stack)  # the same port, the same Postgres store
    client = mlflow.MlflowClient(tracking_uri=stack.mlflow, registry_uri=stack.mlflow)

    assert one_at_a_time(api, RETRAIN) == run_id
    train = api.task(RETRAIN, run_id, "train")
    assert train["try_number"] >= 2 and train["queue"] == "gpu" and train["pool"] == "gpu"
    assert train["hostname"] == stack.worker_name("worker-gpu")
    first_try = api.tries(RETRAIN, run_id, "train")[0]
    assert first_try["state"] in ("failed", "up_for_retry"), first_try
    assert first_try["hostname"] == train["hostname"]
    # Evaluation ran there too: with the login that cannot read the identity map (checked above).
    evaluate = api.task(RETRAIN, run_id, "evaluate")
    assert evaluate["queue"] == "gpu" and evaluate["hostname"] == stack.worker_name("worker-gpu")
    # The run key's record on the working prefix (the retry also wrote it to its local folder).
    done_keys = [k for k in _keys(stack, BUCKETS["work"], _work_prefix() + "checkpoints/")
                 if k.endswith("/done.json")]
    # The run key hashes the checkout's HEAD: a commit landing in this checkout between the
    # two tries makes the retry a new training (nothing to resume), not a resume failure.
    assert [k.split("/")[-3] for k in done_keys] == [killed_key], (
        f"the retry trained under another run key than the killed try ({killed_key}): "
        f"{done_keys}; did HEAD move during the test?")
    done = json.loads(_s3(stack).get_object(Bucket=BUCKETS["work"], Key=done_keys[0])[
        "Body"].read())
    assert done["resumed_at_epoch"] == 1  # the retry went on from the S3 checkpoint
    # Every try before the last failed on the outage (a retry that starts before the server is
    # back fails the same way; the task has 3 tries); the last, after it, succeeded.
    promote = api.task(RETRAIN, run_id, "promote")
    assert promote["state"] == "success" and promote["try_number"] >= 2
    assert _when(promote["end_date"]) > back
    assert api.tries(RETRAIN, run_id, "promote")[0]["state"] in ("failed", "up_for_retry")
    logs = stack.state / "airflow" / "logs" / f"dag_id={RETRAIN}" / f"run_id={run_id}"
    for attempt in range(1, promote["try_number"]):
        log = (logs / "task_id=promote" / f"attempt={attempt}.log").read_text()
        assert "MLflow (" in log and "failed" in log, attempt
    # The ledger is the stack's PostgreSQL table (read with the gpu worker's login, which may),
    # its chain intact after both faults; nothing of it on the shared disk.
    assert not (stack.home / "ledger" / "ledger.jsonl").exists()
    ledger = list(read_entries(_worker_database(stack, "worker-gpu")))
    assert verify_entries(ledger).ok
    events = [entry["event"] for entry in ledger]
    # Decided once (the failed try recorded it), applied once: by the last try, after the
    # server was back (nothing moved while it was down).
    assert events.count("gate_decision") == 1 and events.count("alias_moved") == 1
    moved = next(entry for entry in ledger if entry["event"] == "alias_moved")
    assert f"airflow.try_number={promote['try_number']}" in moved["by"]
    assert datetime.fromisoformat(moved["at"]) >= back.replace(microsecond=0)

    # In the Postgres-backed MLflow: one run, one model version, the champion alias on it.
    runs = client.search_runs([client.get_experiment_by_name("skinrisk").experiment_id])
    assert len(runs) == 1 and runs[0].data.tags["airflow.task_id"] == "train"
    versions = client.search_model_versions("name='skinrisk-xception'")
    assert [v.version for v in versions] == ["1"]
    assert {"champion", "challenger"} <= set(client.get_model_version(
        "skinrisk-xception", "1").aliases)
    # ... which is the stack's PostgreSQL database, and the model's files are on the S3 API.
    assert _mlflow_rows(stack, "select alias, version from registered_model_aliases where "
                        "name = 'skinrisk-xception' order by alias") == [
        ["challenger", 1], ["champion", 1]]
    assert _mlflow_rows(stack, "select count(*) from runs where status = 'FINISHED'") == [[1]]
    assert any(k.endswith("MLmodel") for k in _keys(stack, BUCKETS["mlflow"], "artifacts/"))

    # The GPU worker shared no disk: its tasks cloned the data version from the git server and
    # S3, evaluation took the model from the working prefix, and after its last task its
    # folders are empty again. Nothing was trained on the default worker's disk.
    assert {name: sorted(p.name for p in folder.iterdir()) for name, folder in
            gpu_disk.items()} == {name: [] for name in gpu_disk}
    assert not (stack.home / "checkpoints").exists()
    # The report, written on the default worker (wiped after it), found the training and its
    # evaluation on the working prefix, and left itself there.
    # The run that trained: any of the runs may have started first (the test's triggers or
    # the scheduled one); the others' reports say they were skipped.
    folder = f"{_work_prefix()}reports/{RETRAIN}/{re.sub(r'[^A-Za-z0-9_.-]', '_', run_id)}/"
    kept = sorted(k for k in _keys(stack, BUCKETS["work"], folder) if k.endswith("-report.json"))
    assert kept, f"no report of the retrain run {run_id} on the working prefix"
    report = json.loads(_s3(stack).get_object(Bucket=BUCKETS["work"], Key=kept[-1])[
        "Body"].read())
    assert report["train"]["run_id"] == runs[0].info.run_id
    assert report["train"]["data_version"] == "data-v1"
    assert report["evaluation"]["heldout"]["n"] > 0

    # The queued runs found this data version trained on already: nothing trained twice.
    later = [t for r in waiting for t in api.tasks(RETRAIN, r)]
    assert "train" not in {t["task_id"] for t in later if t["state"] == "success"}
    assert_serialised(api.tasks(RETRAIN, run_id) + later, "gpu")

"""Bring a stack up (databases and logins, S3 buckets, migrations, pools, every process, health)
and tear it down (the process groups it recorded, by id; the databases, logins and Redis keys it
created)."""

from __future__ import annotations

import json
import logging
import shlex
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from infra.topology import gitserver, records
from infra.topology.processes import (
    AF_BIN,
    AIRFLOW,
    BUCKETS,
    POOLS_FILE,
    QUEUES,
    REPO,
    Topology,
    commands,
    kill,
    s3_env,
    start,
    write_private,
)
from skinrisk.errors import SkinriskError

log = logging.getLogger(__name__)

# Run in the orchestrator environment (psycopg2, redis): the admin side of Postgres and Redis.
_ADMIN = r"""
import sys, psycopg2, redis
action, server, prefix, redis_url, *names = sys.argv[1:]
db = psycopg2.connect(server.rstrip("/") + "/postgres")
db.autocommit = True
with db.cursor() as cur:
    for name in names:
        if action == "create":
            cur.execute(f'CREATE DATABASE "{name}"')
        else:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
if action == "drop":
    r = redis.Redis.from_url(redis_url)
    for key in r.scan_iter(match=prefix + "*"):
        r.delete(key)
"""


def _admin(top: Topology, action: str, names: list[str]) -> None:
    result = subprocess.run([str(AF_BIN / "python"), "-c", _ADMIN, action, top.postgres,
                             f"skinrisk-{top.suffix}:", top.redis, *names],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SkinriskError(f"{action} databases {names} on {top.postgres} failed: "
                            f"{result.stderr.strip().splitlines()[-1:]}")


def reachable(url: str, timeout: float = 2) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True  # it answered
    except OSError:
        return False


def wait_for(what: str, ready: Callable[[], bool], top: Topology, name: str,
             timeout: float = 240) -> None:
    """Poll `ready` until true; fail naming the process and its log when it died or timed out."""
    deadline = time.monotonic() + timeout
    while not ready():
        pid = top.pids.get(name)
        dead = pid is not None and subprocess.run(["kill", "-0", str(pid)],
                                                  capture_output=True).returncode != 0
        if dead or time.monotonic() > deadline:
            tail = (top.state / "logs" / f"{name}.log").read_text(errors="replace")[-3000:]
            raise SkinriskError(f"{what} did not come up ({'exited' if dead else 'timed out'});"
                                f" log {top.state}/logs/{name}.log:\n{tail}")
        time.sleep(0.5)


def _airflow(top: Topology, *args: str) -> None:
    env = commands(top)["scheduler"][1]
    logfile = top.state / "logs" / f"airflow-{args[0]}.log"
    result = subprocess.run([str(AF_BIN / "airflow"), *args], cwd=REPO, env=env,
                            capture_output=True, text=True, check=False)
    logfile.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise SkinriskError(f"`airflow {' '.join(args)}` failed; see {logfile}")


def _buckets(top: Topology) -> None:
    import boto3

    env = s3_env(top)
    client = boto3.client("s3", endpoint_url=top.s3, region_name=env["AWS_DEFAULT_REGION"],
                          aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
    for bucket in BUCKETS.values():
        client.create_bucket(Bucket=bucket)


def _health(top: Topology) -> bool:
    """The api-server's view: scheduler, triggerer and dag-processor heartbeating."""
    try:
        with urllib.request.urlopen(f"{top.api}/api/v2/monitor/health", timeout=3) as r:
            health = json.load(r)
    except (OSError, ValueError):
        return False
    return all(health.get(part, {}).get("status") == "healthy"
               for part in ("metadatabase", "scheduler", "triggerer", "dag_processor"))


def worker_ready(top: Topology, worker: str) -> bool:
    logfile = top.state / "logs" / f"{worker}.log"
    text = logfile.read_text(errors="replace") if logfile.is_file() else ""
    return f"{top.worker_name(worker)} ready." in text.split("== started ==")[-1]


def start_worker(top: Topology, worker: str, wait: bool = True) -> None:
    """(Re)start one Celery worker and wait until it consumes its queue."""
    with (top.state / "logs" / f"{worker}.log").open("a") as logfile:
        logfile.write("\n== started ==\n")
    start(top, worker)
    if wait:
        wait_for(f"Celery worker {worker}", lambda: worker_ready(top, worker), top, worker)


def restart_mlflow(top: Topology) -> None:
    kill(top, "mlflow")
    start(top, "mlflow")
    wait_for("MLflow server", lambda: reachable(f"{top.mlflow}/health"), top, "mlflow")


def up(top: Topology) -> Topology:
    """Create and start everything; on any failure, tear down what was made and re-raise."""
    top.state.mkdir(parents=True, exist_ok=True)
    top.home.mkdir(parents=True, exist_ok=True)
    write_private(top.state / "passwords.json", json.dumps({"skinrisk": top.secrets["admin"]}))
    top.save()
    try:
        names = [top.database("airflow"), top.database("mlflow"), top.database("records")]
        _admin(top, "create", names)
        top.databases = names
        top.save()
        records.set_up(top)
        start(top, "moto")
        gitserver.seed(top, REPO)
        start(top, "git")
        wait_for("moto S3 server", lambda: reachable(f"{top.s3}/moto-api/"), top, "moto")
        wait_for("git server", lambda: gitserver.answers(top), top, "git")
        _buckets(top)
        start(top, "mlflow")
        _airflow(top, "db", "migrate")
        _airflow(top, "pools", "import", str(POOLS_FILE))
        for name in AIRFLOW:
            start(top, name)
        wait_for("MLflow server", lambda: reachable(f"{top.mlflow}/health"), top, "mlflow")
        wait_for("Airflow api-server", lambda: _health(top), top, "api-server")
        for worker in QUEUES:
            start_worker(top, worker, wait=False)
        for worker in QUEUES:
            wait_for(f"Celery worker {worker}", lambda w=worker: worker_ready(top, w), top,
                     worker)
    except BaseException:
        down(top)
        raise
    return top


def down(top: Topology) -> None:
    """Kill every recorded process group, then drop the databases, logins and Redis keys made."""
    for name in reversed(list(top.pids)):
        kill(top, name)
    if top.databases:
        _admin(top, "drop", top.databases)
        top.databases = []
    top.save()
    records.drop_logins(top)


def token(top: Topology) -> str:
    """A JWT for the REST API (SimpleAuthManager, the generated admin password)."""
    body = json.dumps({"username": "skinrisk", "password": top.secrets["admin"]}).encode()
    request = urllib.request.Request(f"{top.api}/auth/token", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.load(r)["access_token"]


def write_env_file(top: Topology) -> Path:
    """The workers' environment as a shell file (mode 600: it holds the generated secrets), for
    running `airflow` or `skinrisk` commands against the stack by hand."""
    path = top.state / "stack.env"
    env = commands(top)["worker-default"][1]
    names = [k for k in env if k.startswith(("AIRFLOW", "SKINRISK_", "MLFLOW_", "AWS_"))]
    write_private(path, "".join(f"export {k}={shlex.quote(env[k])}\n" for k in sorted(names)))
    return path


def describe(top: Topology) -> str:
    env_file = write_env_file(top)
    return "\n".join([
        f"Airflow UI and REST API  {top.api}  (user skinrisk, password in "
        f"{top.state}/passwords.json)",
        f"MLflow                   {top.mlflow}",
        f"S3 API (moto)            {top.s3}  buckets {', '.join(BUCKETS.values())}",
        f"data repository (git)    {gitserver.url(top)}",
        f"Celery workers           {', '.join(top.worker_name(w) for w in QUEUES)}",
        f"databases                {', '.join(top.databases)}",
        f"database logins          {', '.join(f'{top.login(w)} ({w})' for w in QUEUES)}",
        f"logs                     {top.state}/logs/",
        "by hand, in another shell (the stack's environment, secrets included):",
        f"  . {env_file}",
        f"  batches go under s3://{BUCKETS['landing']}/incoming/<batch>/ (_READY last; boto3 "
        "with the AWS_* of that file; `skinrisk synth --out DIR` makes one)",
        f"  {AF_BIN / 'airflow'} dags unpause skinrisk_ingest && "
        f"{AF_BIN / 'airflow'} dags trigger skinrisk_ingest",
        f"  REST: POST {top.api}/auth/token {{\"username\": \"skinrisk\", \"password\": ...}},"
        f" then POST {top.api}/api/v2/dags/skinrisk_ingest/dagRuns "
        "{\"logical_date\": null} with the Bearer token",
    ])

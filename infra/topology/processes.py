"""The production topology on one machine, as real processes: Airflow 3 on PostgreSQL with the
Celery executor (Redis broker, Postgres result backend), api-server, scheduler, dag-processor,
triggerer, a worker on queue `default` and one on `gpu`; an MLflow server on PostgreSQL with its
artifacts on an S3 API; the DVC remote, the landing zone and the working prefix
(SKINRISK_WORK_URL: training checkpoints) on that S3 API too; skinrisk's metadata database
(identity map, ledger, locks: SKINRISK_DATABASE_URL) on that PostgreSQL, one login per worker;
the data repository behind a git server (infra/topology/gitserver.py: SKINRISK_GIT_REMOTE).

`make topology` (`python -m infra.topology up`) brings it up in the foreground; Ctrl-C or
`make topology-down` tears it down. The tests in tests/topology/ drive the same code.

Everything one stack owns carries one random suffix: its databases (skinrisk_airflow_<suffix>,
skinrisk_mlflow_<suffix>, skinrisk_records_<suffix>), its database logins, its Redis key
prefix, its worker names; its ports are free ports.
Secrets (Fernet key, JWT and API secrets, the admin password, the S3 keys of the stand-in) are
generated when the stack starts and live only in its state folder. PostgreSQL and Redis are the
machine's; moto's standalone server stands in for MinIO or AWS S3 (the same client code path).
The same variable names, queue names, pool names and connection ids as infra/compose.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from infra.topology import gitserver
from skinrisk.errors import SkinriskError

REPO = Path(__file__).resolve().parents[2]
AF_BIN = REPO / ".venvs" / "airflow" / "bin"
ML_BIN = REPO / ".venvs" / "ml" / "bin"
POOLS_FILE = REPO / "infra" / "airflow" / "pools.json"
BUCKETS = {"landing": "skinrisk-landing", "dvc": "skinrisk-dvc", "mlflow": "skinrisk-mlflow",
           "work": "skinrisk-work", "quarantine": "skinrisk-quarantine"}
WORK_URL = f"s3://{BUCKETS['work']}/pipeline"  # compose's SKINRISK_WORK_URL
QUEUES = {"worker-default": "default", "worker-gpu": "gpu"}  # worker -> its Celery queue
# worker -> the group role its database login joins: the default worker runs ingest, which
# reads the identity map; the gpu worker's login may not (infra/topology/records.py).
LOGIN_GROUPS = {"worker-default": "skinrisk_ingest", "worker-gpu": "skinrisk_pipeline"}
AIRFLOW = ("api-server", "scheduler", "dag-processor", "triggerer")
# Variables of the calling shell that would point the stack at another store.
_FOREIGN = ("AIRFLOW", "SKINRISK_", "MLFLOW_", "AWS_")


@dataclass
class Topology:
    """One stack: where it lives, what it is called, its ports and what is running."""

    state: Path
    suffix: str
    postgres: str  # server URL without a database, e.g. postgresql://postgres@127.0.0.1:5432
    redis: str  # e.g. redis://127.0.0.1:6379/0
    params: str
    heartbeat_timeout: int = 300
    retry_delay_s: int | None = None
    ports: dict[str, int] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    worker_env: dict[str, str] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)
    databases: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)  # the logins made, dropped at teardown

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.ports['api-server']}"

    @property
    def mlflow(self) -> str:
        return f"http://127.0.0.1:{self.ports['mlflow']}"

    @property
    def s3(self) -> str:
        return f"http://127.0.0.1:{self.ports['moto']}"

    @property
    def home(self) -> Path:
        """SKINRISK_HOME of Airflow's own processes (each worker has folders of its own, wiped
        around every task: `wiped`)."""
        return self.state / "skinrisk"

    def wiped(self, worker: str) -> dict[str, Path]:
        """A worker's own folders, emptied before and after every task
        (pipelines/celery_worker.py): the workers share no disk."""
        if worker not in QUEUES:
            return {}
        base = self.state / "workers" / worker
        return {"SKINRISK_HOME": base / "skinrisk", "HOME": base / "home",
                "TMPDIR": base / "tmp", "KERAS_HOME": base / "keras"}

    def database(self, kind: str) -> str:
        return f"skinrisk_{kind}_{self.suffix}"

    def db_url(self, kind: str, driver: str) -> str:
        scheme, rest = self.postgres.split("://", 1)
        return f"{scheme}+{driver}://{rest.rstrip('/')}/{self.database(kind)}"

    def records_url(self, user: str | None = None) -> str:
        """skinrisk's metadata database as `user` (default: the server URL's, the admin)."""
        scheme, rest = self.postgres.rstrip("/").split("://", 1)
        if user:
            rest = f"{user}@{rest.rpartition('@')[2]}"
        return f"{scheme}://{rest}/{self.database('records')}"

    def login(self, worker: str) -> str:
        """The worker's database login (trust authentication on loopback: no password)."""
        return f"{LOGIN_GROUPS[worker]}_{self.suffix}"

    def worker_name(self, worker: str) -> str:
        return f"{QUEUES[worker]}-{self.suffix}@{socket.gethostname()}"

    def save(self) -> None:
        write_private(self.state / "state.json",
                      json.dumps({**asdict(self), "state": str(self.state)}, indent=1))

    @classmethod
    def load(cls, state: Path) -> Topology:
        path = state / "state.json"
        if not path.is_file():
            raise SkinriskError(f"no stack recorded in {state} (state.json missing)")
        data = json.loads(path.read_text())
        return cls(**{**data, "state": Path(data["state"])})


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (it holds the stack's generated secrets)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def plan(state: Path, params: str, postgres: str = "postgresql://postgres@127.0.0.1:5432",
         redis: str = "redis://127.0.0.1:6379/0", heartbeat_timeout: int = 300,
         retry_delay_s: int | None = None, worker_env: dict[str, str] | None = None) -> Topology:
    """A new stack's names, free ports and freshly generated secrets (nothing started)."""
    names = ("moto", "git", "mlflow", "api-server", "scheduler-health", "triggerer-logs",
             "worker-default-logs", "worker-gpu-logs")
    return Topology(
        state=state.resolve(), suffix=secrets.token_hex(4), postgres=postgres, redis=redis,
        params=params, heartbeat_timeout=heartbeat_timeout, retry_delay_s=retry_delay_s,
        ports={name: free_port() for name in names},
        secrets={"fernet": base64.urlsafe_b64encode(os.urandom(32)).decode(),
                 "jwt": secrets.token_hex(32), "api": secrets.token_hex(32),
                 "admin": secrets.token_urlsafe(18), "s3_key": "stack" + secrets.token_hex(6),
                 "s3_secret": secrets.token_hex(20)},
        worker_env=dict(worker_env or {}))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def s3_env(top: Topology) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL_S3": top.s3, "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": top.secrets["s3_key"],
            "AWS_SECRET_ACCESS_KEY": top.secrets["s3_secret"]}


def airflow_env(top: Topology) -> dict[str, str]:
    """infra/compose's x-airflow-env, with this stack's addresses and secrets."""
    conn = {"conn_type": "aws", "login": top.secrets["s3_key"],
            "password": top.secrets["s3_secret"],
            "extra": {"endpoint_url": top.s3, "region_name": "us-east-1"}}
    env = {
        "AIRFLOW_HOME": str(top.state / "airflow"),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__AUTH_MANAGER": ("airflow.api_fastapi.auth.managers.simple."
                                        "simple_auth_manager.SimpleAuthManager"),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "skinrisk:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(top.state / "passwords.json"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__FERNET_KEY": top.secrets["fernet"],
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{top.api}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": top.db_url("airflow", "psycopg2"),
        "AIRFLOW__CELERY__BROKER_URL": top.redis,
        "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": "pipelines.celery_worker.CELERY_CONFIG",
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + top.db_url("airflow", "psycopg2"),
        # Queues keep their production names; the prefix keeps two stacks on one Redis apart.
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": f"skinrisk-{top.suffix}:",
        "AIRFLOW__API__SECRET_KEY": top.secrets["api"],
        "AIRFLOW__API__BASE_URL": top.api,
        "AIRFLOW__API_AUTH__JWT_SECRET": top.secrets["jwt"],
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": "127.0.0.1",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT":
            str(top.ports["scheduler-health"]),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(top.heartbeat_timeout),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL":
            str(min(10, max(2, top.heartbeat_timeout // 4))),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(top.ports["triggerer-logs"]),
        "AIRFLOW_CONN_SKINRISK_S3": json.dumps(conn),
        "AIRFLOW_CONN_SKINRISK_MLFLOW": json.dumps(
            {"conn_type": "http", "host": "127.0.0.1", "port": top.ports["mlflow"],
             "schema": "http"}),
        "SKINRISK_GPU_ROUTING": "queue",
        "SKINRISK_GPU_QUEUE": QUEUES["worker-gpu"],
        "SKINRISK_ML_BIN": str(ML_BIN),
        "SKINRISK_REPO": str(REPO),
        "SKINRISK_HOME": str(top.home),
    }
    if top.retry_delay_s is not None:
        env["SKINRISK_RETRY_DELAY_S"] = str(top.retry_delay_s)
    return env


def skinrisk_env(top: Topology) -> dict[str, str]:
    """infra/compose's x-skinrisk-env: what the stage commands read on the workers."""
    return {"SKINRISK_PARAMS": top.params,
            "SKINRISK_LANDING": f"s3://{BUCKETS['landing']}/incoming/",
            "SKINRISK_GIT_REMOTE": gitserver.url(top),
            "SKINRISK_DVC_REMOTE": f"s3://{BUCKETS['dvc']}/store",
            "SKINRISK_WORK_URL": WORK_URL,
            "SKINRISK_QUARANTINE_URL": f"s3://{BUCKETS['quarantine']}/files",
            "SKINRISK_DVC": str(AF_BIN / "dvc"),
            "SKINRISK_MLFLOW_EXPERIMENT": "skinrisk",
            "MLFLOW_TRACKING_URI": top.mlflow, **s3_env(top)}


def base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN)}


def commands(top: Topology) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Every process of the stack: its command line and its environment."""
    af, base = str(AF_BIN / "airflow"), base_env()
    airflow = {**base, **airflow_env(top)}
    mlflow_env = {**base, **s3_env(top), "MLFLOW_S3_ENDPOINT_URL": top.s3}
    procs: dict[str, tuple[list[str], dict[str, str]]] = {
        "moto": ([str(ML_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(top.ports["moto"])],
                 base),
        "git": (gitserver.command(top), base),
        "mlflow": ([str(ML_BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port",
                    str(top.ports["mlflow"]), "--workers", "1",
                    "--backend-store-uri", top.db_url("mlflow", "pg8000"),
                    "--artifacts-destination", f"s3://{BUCKETS['mlflow']}/artifacts"],
                   mlflow_env),
        "api-server": ([af, "api-server", "--host", "127.0.0.1", "--port",
                        str(top.ports["api-server"]), "--workers", "1"], airflow),
        "scheduler": ([af, "scheduler"], airflow),
        # Heartbeat-timeout callbacks run here: failed tries go to the working prefix.
        "dag-processor": ([af, "dag-processor"], {**airflow, **s3_env(top),
                                                   "SKINRISK_WORKSPACE": "clone",
                                                   "SKINRISK_WORK_URL": WORK_URL}),
        "triggerer": ([af, "triggerer"], airflow),
    }
    for worker, queue in QUEUES.items():
        env = {**airflow, **skinrisk_env(top), **top.worker_env,
               "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(top.ports[f"{worker}-logs"]),
               # Task instances record this worker's name as their hostname (compose: the
               # container's hostname, which differs per worker already).
               "AIRFLOW__CORE__HOSTNAME_CALLABLE":
                   "pipelines.hostname.worker_hostname",
               "SKINRISK_WORKER_NAME": top.worker_name(worker),
               "SKINRISK_DATABASE_URL": top.records_url(top.login(worker))}
        if wiped := top.wiped(worker):  # a disk of its own, a cache only: tasks clone
            env.update({name: str(path) for name, path in wiped.items()},
                       SKINRISK_WORKSPACE="clone",
                       SKINRISK_WIPE=os.pathsep.join(str(p) for p in wiped.values()),
                       # kept between its tasks: downloads and scores, checked before use
                       SKINRISK_CACHE=str(top.state / "workers" / worker / "cache"))
        # One task at a time: the wipe empties the folders the worker's tasks share.
        procs[worker] = ([af, "celery", "worker", "--queues", queue, "--concurrency",
                          "1" if wiped else "2", "--celery-hostname",
                          top.worker_name(worker), "--without-mingle", "--without-gossip"], env)
    return procs


def start(top: Topology, name: str) -> int:
    """Start one process in its own process group (kill by group takes its children)."""
    argv, env = commands(top)[name]
    for folder in top.wiped(name).values():
        folder.mkdir(parents=True, exist_ok=True)
    logs = top.state / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / f"{name}.log").open("ab") as log:
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    top.pids[name] = proc.pid
    top.save()
    return proc.pid


def kill(top: Topology, name: str, sig: int = signal.SIGKILL) -> None:
    """Kill a process the stack started, by its recorded id: its process group and every
    descendant (Airflow runs a bash task's command in a session of its own, which a kill of
    the worker's group alone would leave running, as no lost machine or container does)."""
    pid = top.pids.pop(name, None)
    if pid is None:
        return
    tree = descendants(pid)
    _signal(pid, tree, sig)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.2)
    _signal(pid, tree + descendants(pid), signal.SIGKILL)
    top.save()


def _signal(group: int, pids: list[int], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, sig)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def descendants(pid: int) -> list[int]:
    """Every live descendant of `pid` (Linux /proc), children first."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)  # our child: reap it
        return done == 0
    except ChildProcessError:  # started by another process (`down` from a shell)
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False

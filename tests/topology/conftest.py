"""The production topology, run for real (infra/topology): one stack for the module, on the
machine's PostgreSQL and Redis. Without them the suite is skipped, and the run's summary says so
in capitals: a green `make test` must not hide that the topology was never exercised."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from infra.topology.processes import Topology, plan
from infra.topology.stack import down, up
from tests.conftest import REPO
from tests.helpers.crash import CRASHPOINT

SERVICES = {"PostgreSQL": ("127.0.0.1", 5432), "Redis": ("127.0.0.1", 6379)}
_SKIPPED: list[str] = []


def unreachable() -> list[str]:
    missing = []
    for name, address in SERVICES.items():
        try:
            socket.create_connection(address, timeout=2).close()
        except OSError:
            missing.append(f"{name} at {address[0]}:{address[1]}")
    return missing


def pytest_terminal_summary(terminalreporter) -> None:
    if _SKIPPED:
        terminalreporter.write_sep("!", "TOPOLOGY SUITE NOT RUN", red=True, bold=True)
        terminalreporter.write_line(_SKIPPED[0], red=True, bold=True)


# What a failure report carries: the tail of each long-running process's log and of the newest
# task attempts, so a CI failure (where the stack's folder is gone) can be read from CI's output.
_LOG_TAIL_LINES = 15
_STACK_LOGS = ("scheduler", "worker-gpu", "worker-default", "mlflow")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    state = getattr(item, "funcargs", {}).get("stack")
    if report.failed and call.when == "call" and isinstance(state, Topology):
        report.sections.append(("topology logs (tails)", log_tails(state.state)))
    return report


def log_tails(state: Path) -> str:
    tails = [(state / "logs" / f"{name}.log") for name in _STACK_LOGS]
    newest: dict[str, tuple[float, Path]] = {}  # per task id, its newest attempt in any run
    for log in (state / "airflow" / "logs").glob("dag_id=*/run_id=*/task_id=*/*.log"):
        with contextlib.suppress(OSError):
            stamp = log.stat().st_mtime
            if stamp >= newest.get(log.parent.name, (0.0, log))[0]:
                newest[log.parent.name] = (stamp, log)
    out = []
    for log in [*tails, *(log for _, log in sorted(newest.values()))]:
        try:
            lines = log.read_text(errors="replace").splitlines()[-_LOG_TAIL_LINES:]
        except OSError:  # not written (a process that never started) or gone
            continue
        out.append(f"==> {log.relative_to(state)} <==")
        out.extend(line[:240] for line in lines)
    return "\n".join(out)


def tiny_params(folder: Path) -> Path:
    """Small enough to train in seconds; enough held-out images that every grade is there; a
    gate that promotes the first model (floors 0); 3 epochs so a training can die mid-way."""
    params = folder / "params.yaml"
    params.write_text(yaml.safe_dump({
        "extends": str(REPO / "params-small.yaml"),
        "synth": {"images": 160, "difficulty": 0.0, "sources": ["hospital-a", "hospital-b"]},
        "split": {"test_fraction": 0.4},
        "train": {"epochs": 3, "max_images": 40, "image_size": 71},
        "evaluate": {"bootstrap_resamples": 200},
        "promote": {"floors": {"macro": 0, "low-risk": 0, "high-risk": 0, "dangerous": 0},
                    "insufficient_evidence": "allow"},
    }))
    return params


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    missing = unreachable()
    if missing:
        reason = (f"the production-topology suite needs {' and '.join(missing)}; start them "
                  "(.ci/run does) — tests/topology did NOT run")
        _SKIPPED.append(reason)
        pytest.skip(reason=reason)
    state = tmp_path_factory.mktemp("topology")
    # The default worker's tasks kill the MLflow server's process group just before the alias
    # move, once (tests/helpers/crashpoint); the group is written to mlflow.pgid after `up`.
    crash = {"SKINRISK_TEST_CRASH": "skinrisk.promotion.registry:apply_promotion:before",
             "SKINRISK_TEST_CRASH_PGID": f"@{state / 'mlflow.pgid'}",
             "SKINRISK_TEST_CRASH_ONCE": str(state / "mlflow-killed"),
             "PYTHONPATH": str(CRASHPOINT)}
    # Retries after 10-20 s (production: 30 s, doubling), so the faults cost little time.
    top = plan(state, str(tiny_params(state)), heartbeat_timeout=20, retry_delay_s=10,
               # fail within seconds while the MLflow server is down (MLflow's defaults retry
               # for minutes), yet retry a request on a connection the server just closed
               worker_env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
                           "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                           "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0",
                           "MLFLOW_HTTP_REQUEST_TIMEOUT": "10", **crash})
    try:
        up(top)
        (state / "mlflow.pgid").write_text(str(top.pids["mlflow"]))
        yield top
    finally:
        with contextlib.suppress(FileNotFoundError):
            down(Topology.load(state))
    # Torn down: no process of this stack left (each has the state folder in its environment,
    # task subprocesses included), no database of it left.
    assert stray_processes(state) == []
    assert databases(top) == []
    assert roles(top) == []


def stray_processes(state: Path) -> list[str]:
    marker = str(state).encode()
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        with contextlib.suppress(OSError):
            if marker in environ.read_bytes():
                found.append((environ.parent / "cmdline").read_bytes().replace(b"\0", b" ")
                             .decode(errors="replace")[:200])
    return found


def databases(top: Topology) -> list[str]:
    return _named_like(top, "select datname from pg_database where datname like %s")


def roles(top: Topology) -> list[str]:
    """The stack's database logins left behind (roles are server-wide, not per database)."""
    return _named_like(top, "select rolname from pg_roles where rolname like %s")


def _named_like(top: Topology, sql: str) -> list[str]:
    import pg8000.dbapi

    db = pg8000.dbapi.connect(user="postgres", host="127.0.0.1", port=5432, database="postgres")
    try:
        cursor = db.cursor()
        cursor.execute(sql, (f"%{top.suffix}",))
        return [row[0] for row in cursor.fetchall()]
    finally:
        db.close()

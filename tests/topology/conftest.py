"""The production topology, run for real (pipelines/topology): one stack for the module, on the
machine's PostgreSQL and Redis. Without them the suite is skipped, and the run's summary says so
in capitals: a green `make test` must not hide that the topology was never exercised."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from pipelines.topology.processes import Topology, plan
from pipelines.topology.stack import down, up
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
    top = plan(state, str(tiny_params(state)), heartbeat_timeout=25, retry_delay_s=5,
               # fail fast while the MLflow server is down (MLflow retries for minutes)
               worker_env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
                           "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"})
    try:
        yield up(top)
    finally:
        with contextlib.suppress(FileNotFoundError):
            down(Topology.load(state))


def arm_crash(top: Topology, worker: str, where: str, kill_group: int, once: Path) -> None:
    """The worker's tasks kill -9 `kill_group` at `where`, once (tests/helpers/crashpoint)."""
    top.worker_env.update({"SKINRISK_TEST_CRASH": where, "SKINRISK_TEST_CRASH_PGID":
                           str(kill_group), "SKINRISK_TEST_CRASH_ONCE": str(once),
                           "PYTHONPATH": str(CRASHPOINT)})
    top.save()

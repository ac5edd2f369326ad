"""Fixtures shared by every test: the repository, both environments, the real PAD sample."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VENVS = REPO / ".venvs"
ENVIRONMENTS = ("airflow", "ml")


def data_dir(home: Path) -> Path:
    """What DVC versions, under a SKINRISK_HOME: raw zone, curated dataset, splits."""
    return home / "workspace" / "data"


def env_python(name: str) -> Path:
    path = VENVS / name / "bin" / "python"
    if not path.exists():
        pytest.fail(f"{path} missing: run `make setup` (make test does it for you)")
    return path


def run_in_env(name: str, args: list[str], *, env: dict[str, str] | None = None,
               cwd: Path = REPO, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """Run a program from one environment's bin/ (python, skinrisk, airflow, dvc ...)."""
    program = VENVS / name / "bin" / args[0]
    return subprocess.run([str(program), *args[1:]], cwd=cwd, env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="session")
def pad_dir() -> Path:
    """The real PAD-UFES-20 sample beside the checkout (CI copies shared/ there too)."""
    path = Path(os.environ.get("SKINRISK_PAD_DIR", REPO.parent / "shared/data/pad-ufes-20"))
    if not (path / "metadata.csv").is_file():
        pytest.fail(f"PAD-UFES-20 sample not found at {path}; set SKINRISK_PAD_DIR")
    return path


@pytest.fixture()
def state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private SKINRISK_HOME, so no test writes into the checkout's var/."""
    home = tmp_path / "state"
    monkeypatch.setenv("SKINRISK_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # its store, not another's
    return home


@pytest.fixture(scope="session")
def current_env() -> str:
    return Path(sys.prefix).name


# The heaviest work units first (seconds on 2 cores, from the --durations CI prints), so the
# two pytest-xdist workers end together instead of one running a long test alone at the end.
# A unit is a file, except the reliability tests that copy the `stages` snapshots: one group,
# so those are built once (in one worker) rather than once per worker.
STAGES_GROUP = "reliability-stages"
HEAVIEST_FIRST = (
    STAGES_GROUP,                                     # ~900 s: the snapshots, then ~25 tests
    "tests/integration/test_train_evaluate.py",       # ~590 s: 10 epochs, a reproduction
    "tests/integration/test_dags_e2e.py",             # ~350 s: both DAGs through Airflow
    "tests/integration/test_checkpoint_store.py",     # ~320 s
    "tests/integration/test_readme_path.py",          # ~310 s: the README's worked path
    "tests/integration/test_versioning.py",           # ~250 s
    "tests/reliability/test_bad_batches.py",          # ~105 s
    "tests/integration/test_stateless_data.py",       # ~100 s
    "tests/integration/test_evaluate_external.py",    # ~85 s
)


def _work_unit(item: pytest.Item) -> str:
    if "stages" in getattr(item, "fixturenames", ()):
        return STAGES_GROUP
    return item.nodeid.split("::", 1)[0]


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups (--dist loadgroup)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {unit: n for n, unit in enumerate(HEAVIEST_FIRST)}
    if config.pluginmanager.hasplugin("xdist"):  # the marker is xdist's (--strict-markers)
        for item in items:
            item.add_marker(pytest.mark.xdist_group(_work_unit(item)))
    # Stable: the rest keep their collection order, and every worker sorts alike.
    items.sort(key=lambda item: rank.get(_work_unit(item), len(rank)))


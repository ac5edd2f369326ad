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
# A unit is a file, except the reliability files whose tests copy the `stages` snapshots: one
# unit, so those are built once (in one worker) rather than once per worker.
STAGES_GROUP = "reliability-stages"
STAGES_FILES = ("tests/reliability/test_crashes.py", "tests/reliability/test_mlflow_down.py",
                "tests/reliability/test_tampered_ledger.py")
HEAVIEST_FIRST = (
    STAGES_GROUP,                                     # ~900 s: the snapshots, then ~12 tests
    "tests/integration/test_train_evaluate.py",       # ~590 s: 10 epochs, a reproduction
    "tests/integration/test_dags_e2e.py",             # ~350 s: both DAGs through Airflow
    "tests/integration/test_checkpoint_store.py",     # ~320 s
    "tests/integration/test_readme_path.py",          # ~310 s: the README's worked path
    "tests/integration/test_versioning.py",           # ~250 s
    "tests/reliability/test_bad_batches.py",          # ~105 s
    "tests/integration/test_stateless_data.py",       # ~100 s
    "tests/integration/test_evaluate_external.py",    # ~85 s
)


def work_unit(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    return STAGES_GROUP if path in STAGES_FILES else path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {unit: n for n, unit in enumerate(HEAVIEST_FIRST)}
    # Stable: the rest keep their collection order, and every worker sorts alike.
    items.sort(key=lambda item: rank.get(work_unit(item.nodeid), len(rank)))


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`--dist loadscope` by work_unit, in collection order (with --no-loadscope-reorder).
    xdist 3.8's loadgroup cannot be used: it renames test ids through an attribute pytest 9
    no longer reads, so its groups fall apart into single tests."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class WorkUnits(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return WorkUnits(config, log)

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

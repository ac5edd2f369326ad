"""git and dvc as subprocesses, with errors that say which command failed and why."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from skinrisk.errors import SkinriskError
from skinrisk.layout import project_root

DVC_VARIABLE = "SKINRISK_DVC"


def dvc_executable() -> str:
    """$SKINRISK_DVC, else dvc on PATH, else the orchestrator environment's dvc."""
    if os.environ.get(DVC_VARIABLE):
        return os.environ[DVC_VARIABLE]
    found = shutil.which("dvc")
    if found:
        return found
    root = project_root()
    candidate = root / ".venvs" / "airflow" / "bin" / "dvc" if root else None
    if candidate and candidate.exists():
        return str(candidate)
    raise SkinriskError(f"dvc not found: run `make setup`, put dvc on PATH, or set {DVC_VARIABLE}")


def run(args: list[str], cwd: Path, check: bool = True, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False,
                            env={**os.environ, **(env or {})})
    if check and result.returncode != 0:
        raise SkinriskError(f"`{' '.join(args)}` failed in {cwd} (exit {result.returncode}):\n"
                            f"{(result.stderr or result.stdout).strip()[-2000:]}")
    return result


def git(cwd: Path, *args: str, check: bool = True) -> str:
    return run(["git", *args], cwd, check).stdout.strip()


def dvc(cwd: Path, *args: str, check: bool = True) -> str:
    # No analytics, no update checks: these machines reach no network but package registries.
    env = {"DVC_NO_ANALYTICS": "1", "DVC_NO_UPDATER": "1"}
    return run([dvc_executable(), *args], cwd, check, env).stdout.strip()

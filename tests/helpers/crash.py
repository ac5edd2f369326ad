"""Run a `skinrisk` command in its own process and kill -9 it at a named point."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from tests.conftest import REPO, VENVS

CRASHPOINT = Path(__file__).parent / "crashpoint"


def environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["SKINRISK_HOME"] = str(home)
    return env


def run_skinrisk(home: Path, args: list[str], crash: str | None = None,
                 kill: int | None = None, extra: dict[str, str] | None = None
                 ) -> subprocess.CompletedProcess[str]:
    """``crash``: where to SIGKILL the command itself, or with ``kill`` that process group."""
    env = {**environment(home), **(extra or {})}
    if crash:
        env["SKINRISK_TEST_CRASH"] = crash
        env["PYTHONPATH"] = str(CRASHPOINT)
    if kill:
        env["SKINRISK_TEST_CRASH_PGID"] = str(kill)
    return subprocess.run([str(VENVS / "ml" / "bin" / "skinrisk"), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, check=False)


def killed(result: subprocess.CompletedProcess[str]) -> bool:
    return result.returncode == -signal.SIGKILL

"""The embedded Airflow: SQLite metadata under SKINRISK_HOME/airflow, this checkout's dags/,
driven through the orchestrator environment's `airflow` CLI (`airflow dags test`).

Used by `skinrisk demo` and the DAG end-to-end test; production runs the same DAG files on a
scheduler and workers (infra/).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout, project_root

POOLS = {"skinrisk_data_writes": "DVC/git workspace and raw-zone writers, one at a time",
         "skinrisk_promote": "champion alias moves, one at a time",
         "gpu": "concurrent trainings (one per GPU worker)"}
_END_TASK = re.compile(r"\[DAG TEST\] end task task_id=(\S+)")
_FINISHED = re.compile(r"DagRun Finished: dag_id=(\S+), .*?run_id=([^,]+), .*?state=(\w+)")


@dataclass(frozen=True)
class DagTest:
    dag_id: str
    run_id: str
    state: str
    tasks: list[str]
    log: Path


class LocalAirflow:
    def __init__(self, layout: StateLayout, params_file: str) -> None:
        root = project_root()
        if root is None:
            raise SkinriskError("the embedded Airflow runs from a source checkout (dags/)")
        self.root = root
        self.home = layout.home / "airflow"
        self.program = root / ".venvs" / "airflow" / "bin" / "airflow"
        if not self.program.exists():
            raise SkinriskError(f"{self.program} missing: run `make setup`")
        self.env = {**os.environ, "AIRFLOW_HOME": str(self.home),
                    "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
                    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
                    "SKINRISK_HOME": str(layout.home), "SKINRISK_PARAMS": params_file,
                    "SKINRISK_ML_BIN": str(root / ".venvs" / "ml" / "bin")}
        self.env.pop("AIRFLOW_CTX_DAG_ID", None)

    def _run(self, *args: str, log: Path | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(self.program), *args], cwd=self.root, env=self.env,
                                capture_output=True, text=True, check=False)
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(result.stdout + result.stderr)
        return result

    def prepare(self) -> None:
        """Create or upgrade the SQLite metadata database and the pools (idempotent)."""
        self.home.mkdir(parents=True, exist_ok=True)
        migrated = self._run("db", "migrate", log=self.home / "logs" / "db-migrate.log")
        if migrated.returncode != 0:
            raise SkinriskError(f"`airflow db migrate` failed; see {self.home}/logs/"
                                "db-migrate.log")
        for name, description in POOLS.items():
            self._run("pools", "set", name, "1", description)

    def dags_test(self, dag_id: str, label: str) -> DagTest:
        log = self.home / "logs" / f"dags-test-{dag_id}-{label}.log"
        result = self._run("dags", "test", dag_id, log=log)
        text = result.stdout + result.stderr
        finished = _FINISHED.findall(text)
        if result.returncode != 0 or not finished:
            tail = "\n".join(text.strip().splitlines()[-15:])
            raise SkinriskError(f"`airflow dags test {dag_id}` failed (exit "
                                f"{result.returncode}); full log {log}:\n{tail}")
        _dag, run_id, state = finished[-1]
        return DagTest(dag_id, run_id, state, _END_TASK.findall(text), log)

    def ui_commands(self) -> list[str]:
        """Shell commands that open the Airflow and MLflow UIs on this state, as printed."""
        return [f"{self.ui_environment()} airflow standalone    # Airflow UI on "
                "http://localhost:8080",
                f"{shlex.quote(str(self.root / '.venvs/ml/bin/mlflow'))} ui --backend-store-uri "
                f"{shlex.quote('sqlite:///' + self.env['SKINRISK_HOME'] + '/mlflow/mlflow.db')}"
                "    # MLflow UI on http://localhost:5000"]

    def ui_environment(self) -> str:
        """The settings a shell command needs to be this embedded Airflow. The environment's
        bin folder goes first on PATH: `airflow standalone` starts its scheduler, api-server
        and triggerer as `airflow ...` from PATH."""
        names = ("AIRFLOW_HOME", "AIRFLOW__CORE__DAGS_FOLDER", "AIRFLOW__CORE__LOAD_EXAMPLES",
                 "SKINRISK_HOME", "SKINRISK_PARAMS", "SKINRISK_ML_BIN")
        return " ".join([f'PATH={shlex.quote(str(self.program.parent))}:"$PATH"',
                         *(f"{n}={shlex.quote(self.env[n])}" for n in names)])

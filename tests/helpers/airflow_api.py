"""A small client of Airflow 3's REST API (/api/v2), authenticated with a JWT from /auth/token."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from infra.topology.processes import Topology
from infra.topology.stack import token

FINISHED = {"success", "failed"}


class AirflowApi:
    def __init__(self, top: Topology) -> None:
        self.base = f"{top.api}/api/v2"
        self.jwt = token(top)

    def call(self, method: str, path: str, body: dict | None = None) -> Any:
        request = urllib.request.Request(
            f"{self.base}{path}", method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.jwt}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path}: {exc.code} {exc.read()[:500]!r}") from None

    def unpause(self, dag_id: str) -> None:
        self.call("PATCH", f"/dags/{dag_id}", {"is_paused": False})

    def wait_parsed(self, dag_id: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.call("GET", f"/dags/{dag_id}")
                return
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)

    def trigger(self, dag_id: str) -> str:
        return self.call("POST", f"/dags/{dag_id}/dagRuns", {"logical_date": None})["dag_run_id"]

    def run(self, dag_id: str, run_id: str) -> dict:
        return self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")

    def runs(self, dag_id: str) -> list[dict]:
        return self.call("GET", f"/dags/{dag_id}/dagRuns?limit=100")["dag_runs"]

    def tasks(self, dag_id: str, run_id: str) -> list[dict]:
        return self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=100"
                         )["task_instances"]

    def task(self, dag_id: str, run_id: str, task_id: str) -> dict:
        return next(t for t in self.tasks(dag_id, run_id) if t["task_id"] == task_id)

    def tries(self, dag_id: str, run_id: str, task_id: str) -> list[dict]:
        """Every try of a task (the earlier ones from its history)."""
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/tries"
        return self.call("GET", path)["task_instances"]

    def first_started(self, dag_id: str, timeout: float = 120) -> dict:
        """The run the scheduler started first (unpausing may add a scheduled run to ours)."""
        deadline = time.monotonic() + timeout
        while not (started := [r for r in self.runs(dag_id) if r["start_date"]]):
            if time.monotonic() > deadline:
                raise AssertionError(f"no run of {dag_id} started: {self.runs(dag_id)}")
            time.sleep(1)
        return min(started, key=lambda r: r["start_date"])

    def wait(self, dag_id: str, run_id: str, timeout: float = 600) -> dict:
        deadline = time.monotonic() + timeout
        while (run := self.run(dag_id, run_id))["state"] not in FINISHED:
            if time.monotonic() > deadline:
                states = {t["task_id"]: t["state"] for t in self.tasks(dag_id, run_id)}
                raise AssertionError(f"{dag_id} {run_id} still {run['state']}: {states}")
            time.sleep(2)
        return run

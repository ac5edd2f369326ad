"""A real `mlflow server` process (SQLite backend, proxied artifacts) that a test can kill and
start again on the same store and port."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from tests.conftest import VENVS
from tests.helpers.s3 import free_port


class MlflowServer:
    def __init__(self, backend: Path, artifacts: Path) -> None:
        self.backend, self.artifacts = backend, artifacts
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> MlflowServer:
        self.proc = subprocess.Popen(
            [str(VENVS / "ml" / "bin" / "mlflow"), "server", "--host", "127.0.0.1", "--port",
             str(self.port), "--backend-store-uri", f"sqlite:///{self.backend}",
             "--artifacts-destination", str(self.artifacts), "--workers", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{self.uri}/health", timeout=1)
                return self
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError("mlflow server did not start") from None
                time.sleep(0.3)

    @property
    def group(self) -> int:
        assert self.proc is not None
        return os.getpgid(self.proc.pid)

    def running(self) -> bool:
        try:
            urllib.request.urlopen(f"{self.uri}/health", timeout=1)
            return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):  # a stage under test killed it already
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc = None

"""The commands `make demo` prints for the UIs work as printed, from a shell without the
environments on PATH (a new user's)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pipelines.airflow_local import LocalAirflow
from skinrisk.layout import StateLayout
from tests.conftest import VENVS

needs_airflow = pytest.mark.skipif(not (VENVS / "airflow" / "bin" / "airflow").exists(),
                                   reason="the orchestrator environment is not built")


@needs_airflow
def test_the_printed_airflow_command_finds_airflow_as_its_children_do(tmp_path: Path) -> None:
    # A home with a space and a quote: the printed command must quote what it names.
    airflow = LocalAirflow(StateLayout(tmp_path / "a b'c"), "params-small.yaml")
    printed = airflow.ui_commands()[0]
    assert printed.split("#")[0].rstrip().endswith(" airflow standalone")
    # `standalone` starts `airflow scheduler`, `airflow api-server` ... by name from PATH: the
    # same lookup, with the command's own settings, in a shell that has only the system's PATH.
    command = printed.split("#")[0].rstrip().removesuffix(" standalone") + " config get-value " \
        "core dags_folder"
    done = subprocess.run(["bash", "-c", command], env={"PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str(airflow.root / "dags")


def test_a_spinner_off_a_terminal_is_nothing_and_leaves_stdout_alone(
        capsys: pytest.CaptureFixture) -> None:
    import sys

    from pipelines.common import err, working

    assert not err.is_terminal  # under pytest: captured, like a log file
    before = sys.stdout
    with working("a slow step"):
        print("a line of the step")
        assert sys.stdout is before
    captured = capsys.readouterr()
    assert captured.out == "a line of the step\n" and captured.err == ""

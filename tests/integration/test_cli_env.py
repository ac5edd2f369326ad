"""The `skinrisk` program as a person meets it: from either environment, and under Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from skinrisk.batch import READY_MARKER
from tests.conftest import REPO, run_in_env

PARAMS = ["--params", str(REPO / "params-small.yaml")]
INTERRUPTED = ("interrupted: nothing was left half-written; rerun the same command to "
               "continue")

EVERY_HELP = r"""
import contextlib, io, json
from pipelines.commands import build_app
from pipelines.cli import main
import typer

def paths(command, prefix):
    subs = getattr(command, "commands", None)
    if not subs:
        return [prefix]
    return [p for name, sub in subs.items() for p in paths(sub, [*prefix, name])]

codes = {}
for path in paths(typer.main.get_command(build_app()), []):
    with contextlib.redirect_stdout(io.StringIO()):
        codes[" ".join(path)] = main([*path, "--help"])
print(json.dumps(codes))
"""


def test_every_subcommand_help_works_in_the_orchestrator_environment() -> None:
    result = run_in_env("airflow", ["python", "-c", EVERY_HELP])
    assert result.returncode == 0, result.stderr
    codes = json.loads(result.stdout.splitlines()[-1])
    assert len(codes) > 20 and "audit image" in codes and "train" in codes
    assert {c for c, rc in codes.items() if rc != 0} == set()


@pytest.mark.parametrize("command", [["ingest"], ["quality"], ["evaluate"]])
def test_an_ml_command_in_the_orchestrator_environment_names_the_one_that_runs_it(
        tmp_path: Path, command: list[str]) -> None:
    env = {"SKINRISK_HOME": str(tmp_path / "state")}
    landing = tmp_path / "state" / "landing"
    synth = run_in_env("airflow", ["skinrisk", "synth", "--images", "6", "--size", "64x48",
                                   "--out", str(landing / "b1"), *PARAMS], env=env)
    assert synth.returncode == 0, synth.stderr
    result = run_in_env("airflow", ["skinrisk", *command, *PARAMS], env=env)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    assert f"`skinrisk {command[0]}` needs the ml environment" in lines[0]
    assert f".venvs/ml/bin/skinrisk {command[0]}" in lines[0]


def _default_sigint() -> None:
    # A test runner started in the background inherits SIGINT ignored, and Python then never
    # raises KeyboardInterrupt; a person's terminal delivers it with the default disposition.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_exits_130_with_one_line_and_the_rerun_continues(tmp_path: Path) -> None:
    batch = tmp_path / "landing" / "b1"
    command = [str(Path(sys.executable).parent / "skinrisk"), "synth", "--images", "300",
               "--size", "320x240", "--out", str(batch), "--truth", str(tmp_path / "t.csv"),
               *PARAMS]
    env = {**os.environ, "SKINRISK_HOME": str(tmp_path / "state")}
    process = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)
    deadline = time.monotonic() + 120
    while len(list(batch.glob("images/*"))) < 10:  # well inside the command, past start-up
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert [line for line in stderr.splitlines() if line.strip()] == [INTERRUPTED]
    assert not (batch / READY_MARKER).exists()  # nothing published

    rerun = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True,
                           timeout=300, check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert (batch / READY_MARKER).is_file() and len(list(batch.glob("images/*"))) == 300


# What the `skinrisk` script does (`from pipelines.cli import main`), with a real SIGINT sent to
# itself the moment the commands start importing typer: deterministic, unlike a timed kill.
CTRL_C_AT_START_UP = textwrap.dedent("""
    import os, signal, sys

    class CtrlC:
        def find_spec(self, name, path=None, target=None):
            if name == "typer":
                os.kill(os.getpid(), signal.SIGINT)
            return None

    sys.meta_path.insert(0, CtrlC())
    from pipelines.cli import main
    sys.exit(main(["--help"]))
""")


def test_ctrl_c_during_the_start_up_imports_exits_130_with_one_line() -> None:
    result = subprocess.run([sys.executable, "-c", CTRL_C_AT_START_UP], cwd=REPO,
                            capture_output=True, text=True, timeout=120, check=False,
                            preexec_fn=_default_sigint)
    assert result.returncode == 130, result.stderr
    assert [line for line in result.stderr.splitlines() if line.strip()] == [INTERRUPTED]

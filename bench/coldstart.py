"""A GPU task's start on a wiped disk (SKINRISK_WORKSPACE=clone) against the kept workspace.

One synthetic cohort goes through the data stages and `skinrisk version` into a pipeline home
(a folder git remote and a folder DVC remote, as the embedded default has them), and `skinrisk
train` (params-small, one epoch) leaves its finished training on a folder working prefix. A
worker home that starts empty then does what `skinrisk evaluate` does first in clone mode: check
out the data version and pull what evaluation reads (shards, split table, curated manifest,
verdicts), then take the model from the working prefix. Timed cold (empty disk: every byte
fetched) and again warm (the disk kept between tasks: DVC's cache answers, nothing fetched).
The embedded workspace needs none of this: the figure is what a wiped worker adds per task.
`python -m bench.coldstart` prints the rows.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "params-small.yaml"


def _quiet(argv: list[str]) -> None:
    from pipelines.cli import main

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        if main(argv) != 0:
            raise RuntimeError(f"skinrisk {argv[0]} failed in the benchmark")


def _pipeline(root: Path, images: int) -> Path:
    """A data version and a finished one-epoch training of it; returns the params file."""
    params = root / "params.yaml"
    params.write_text(f"extends: {PARAMS}\ntrain:\n  epochs: 1\n")
    landing = root / "landing"
    _quiet(["synth", "--out", str(landing / "b1"), "--truth", str(root / "b1.csv"),
            "--images", str(images), "--params", str(params)])
    _quiet(["ingest", "--landing", str(landing), "--params", str(params)])
    for stage in ("quality", "validate", "split", "pack"):
        _quiet([stage, "--params", str(params)])
    _quiet(["version"])
    _quiet(["train", "--params", str(params)])
    return params


def _start(params: Path) -> tuple[float, int, int]:
    """Seconds to get evaluation's inputs and the model; the data's and the model's bytes."""
    from pipelines.common import load_params
    from skinrisk.layout import StateLayout
    from skinrisk.training.runs import trained_record
    from skinrisk.versioning.checkout import EVALUATION_INPUTS, checkout_version
    from skinrisk.versioning.current import current_version

    start = time.perf_counter()
    layout = StateLayout.from_env()
    checkout_version(layout, EVALUATION_INPUTS)
    trained_record(layout, load_params(params), current_version(layout))
    seconds = time.perf_counter() - start
    data = sum(p.stat().st_size for p in layout.data.rglob("*") if p.is_file())
    return seconds, data, (layout.models / "model.keras").stat().st_size


def run(images: int = 240) -> list[tuple[str, float, str]]:
    # Every variable set below is put back afterwards.
    with mock.patch.dict(os.environ), tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        home, work = root / "pipeline", root / "work"
        os.environ.update(SKINRISK_HOME=str(home), SKINRISK_WORK_URL=str(work))
        params = _pipeline(root, images)
        os.environ.update(SKINRISK_HOME=str(root / "worker"), SKINRISK_WORKSPACE="clone",
                          SKINRISK_GIT_REMOTE=str(home / "git-remote.git"),
                          SKINRISK_DVC_REMOTE=str(home / "dvc-remote"),
                          MLFLOW_TRACKING_URI=f"sqlite:///{home}/mlflow/mlflow.db",
                          # A server in production; the steps timed here do not contact it.
                          SKINRISK_DATABASE_URL="postgresql://pipeline@127.0.0.1:1/skinrisk")
        cold, data, model = _start(params)
        warm, _, _ = _start(params)
    return [
        (f"GPU task on a wiped disk, {images} photos: clone + pull + model, cold", cold, "s"),
        ("the same, disk kept (DVC cache, model in place), warm", warm, "s"),
        ("the same: data a cold start fetches (80 px shards, tables)", data / 1e6, "MB"),
        ("the same: model a cold start fetches (Xception at 80 px, optimizer state)",
         model / 1e6, "MB"),
    ]


if __name__ == "__main__":
    for name, value, unit in run():
        print(f"{name:75s} {value:10.3f} {unit}")

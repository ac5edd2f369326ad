"""Case 2: kill -9 in the middle of quality, version and promote (ingest and train have their
own: tests/integration/test_ingest.py, test_train_evaluate.py) — the rerun ends in the state an
uninterrupted run reaches, and nothing partial is visible in between.

Each scenario runs on its own copy of a stage snapshot (tests/reliability/conftest.py), beside
an uninterrupted copy to compare with.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from tests.conftest import REPO, data_dir
from tests.helpers.crash import killed, run_skinrisk
from tests.helpers.invariants import assert_invariants, landing_files
from tests.reliability.conftest import copy_stage as _copy
from tests.reliability.conftest import ok as _ok

pytestmark = [pytest.mark.ml, pytest.mark.slow]


def _rows(path: Path) -> list[dict]:
    return sorted(pq.read_table(path).to_pylist(), key=lambda r: r["image_id"])


def _events(home: Path) -> list[str]:
    ledger = home / "ledger" / "ledger.jsonl"
    return [json.loads(line)["event"] for line in ledger.read_text().splitlines()]


def test_quality_killed_mid_scoring_then_rerun_equals_an_uninterrupted_run(
        stages: dict[str, Path], tmp_path: Path) -> None:
    p = ["--params", str(stages["params"])]
    crashed = _copy(stages, "ingested", tmp_path / "crashed")
    result = run_skinrisk(crashed, ["quality", *p],
                          crash="skinrisk.quality.runner:score_image:after:10")
    assert killed(result), result.stderr[-2000:]
    curated = data_dir(crashed) / "curated"
    assert not (curated / "manifest.parquet").exists()  # nothing half-published
    _ok(crashed, "quality", *p)
    clean = _copy(stages, "ingested", tmp_path / "clean")
    _ok(clean, "quality", *p)
    for name in ("manifest.parquet", "quality_quarantine.parquet"):
        assert _rows(curated / name) == _rows(data_dir(clean) / "curated" / name), name
    assert (curated / "quality_report.json").read_text() == (
        data_dir(clean) / "curated" / "quality_report.json").read_text()
    assert _events(crashed) == _events(clean)  # the killed run recorded nothing
    assert_invariants(crashed, {"b1": landing_files(stages["landing"])})


def test_version_killed_before_its_push_then_rerun_completes_the_same_version(
        stages: dict[str, Path], tmp_path: Path) -> None:
    crashed = _copy(stages, "packed", tmp_path / "crashed")
    # dvc add, dvc commit, then the 3rd dvc call is the push: killed just before it.
    result = run_skinrisk(crashed, ["version"],
                          crash="skinrisk.versioning.version:dvc:before:3")
    assert killed(result), result.stderr[-2000:]
    _ok(crashed, "version")
    status = run_skinrisk(crashed, ["data", "status"])
    assert status.returncode == 0, status.stdout + status.stderr  # remote re-hashed: complete
    clean = _copy(stages, "packed", tmp_path / "clean")
    _ok(clean, "version")
    lock = yaml.safe_load((crashed / "workspace" / "dvc.lock").read_text())
    assert lock == yaml.safe_load((clean / "workspace" / "dvc.lock").read_text())
    from skinrisk.versioning.tools import git

    assert git(crashed / "git-remote.git", "tag", "--list") == "data-v1"
    assert _events(crashed) == _events(clean)
    assert_invariants(crashed)


@pytest.mark.parametrize("crash, where", [
    ("skinrisk.promotion.registry:apply_promotion:before", "after the decision, before the move"),
    ("skinrisk.promotion.pending:record_move:before", "after the move, before it is recorded"),
])
def test_promote_killed_mid_way_then_rerun_ends_as_an_uninterrupted_promotion(
        stages: dict[str, Path], tmp_path: Path, crash: str, where: str) -> None:
    import mlflow

    p = ["--params", str(stages["params"])]
    crashed = _copy(stages, "evaluated", tmp_path / "crashed")
    result = run_skinrisk(crashed, ["promote", *p], crash=crash)
    assert killed(result), (where, result.stdout[-2000:], result.stderr[-2000:])
    rerun = _ok(crashed, "promote", *p)
    assert "interrupted run" in rerun or "already the champion" in rerun, rerun
    clean = _copy(stages, "evaluated", tmp_path / "clean")
    _ok(clean, "promote", *p)

    def state(home: Path) -> dict:
        db = f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
        client = mlflow.MlflowClient(tracking_uri=db, registry_uri=db)
        version = client.get_model_version("skinrisk-xception", "1")
        return {"aliases": sorted(version.aliases), "verdict": version.tags["gate.verdict"],
                "records": len(list((home / "decisions").glob("*.json"))),
                "events": _events(home)}

    assert state(crashed) == state(clean), where
    assert state(clean)["aliases"] == ["challenger", "champion"]
    assert state(clean)["events"][-2:] == ["gate_decision", "alias_moved"]
    assert_invariants(crashed)


def test_two_trainings_of_the_same_data_at_once_train_once(
        stages: dict[str, Path], tmp_path: Path) -> None:
    """Case 3 (training side; two promotions at once: test_promotion_registry.py)."""
    import subprocess

    import mlflow

    from tests.conftest import VENVS
    from tests.helpers.crash import environment

    home = _copy(stages, "packed", tmp_path / "state")
    _ok(home, "version")
    command = [str(VENVS / "ml" / "bin" / "skinrisk"), "train", "--params",
               str(stages["params"])]
    both = [subprocess.Popen(command, cwd=REPO, env=environment(home), text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outputs = [p.communicate(timeout=900) for p in both]
    assert [p.returncode for p in both] == [0, 0], [o[1][-2000:] for o in outputs]
    assert sum("trained already" in o[0].replace("\n", " ") for o in outputs) == 1
    db = f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=db)
    experiments = [e.experiment_id for e in client.search_experiments()]
    assert len(client.search_runs(experiments)) == 1
    assert _events(home).count("training_run") == 1
    assert_invariants(home)

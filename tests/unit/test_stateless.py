"""What a worker with a wiped disk relies on: the workspace mode read once, its folders emptied
around every task, failed tries recorded where another worker's report finds them."""

from __future__ import annotations

from pathlib import Path

import pytest

from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout
from skinrisk.reports import append_failure, failures
from skinrisk.storage.objects import open_store


def test_the_workspace_mode_is_keep_unless_clone_is_asked_for_with_a_working_prefix(
        tmp_path: Path) -> None:
    home = {"SKINRISK_HOME": str(tmp_path)}
    assert StateLayout.from_env(home).clones is False
    work = {**home, "SKINRISK_WORK_URL": "s3://work/pipeline"}
    assert StateLayout.from_env({**work, "SKINRISK_WORKSPACE": "clone"}).clones is True
    assert StateLayout.from_env({**work, "SKINRISK_WORKSPACE": "keep"}).clones is False
    with pytest.raises(SkinriskError, match="SKINRISK_WORKSPACE=clone needs SKINRISK_WORK_URL"):
        StateLayout.from_env({**home, "SKINRISK_WORKSPACE": "clone"})
    with pytest.raises(SkinriskError, match="expected keep or clone, got 'cloned'"):
        StateLayout.from_env({**work, "SKINRISK_WORKSPACE": "cloned"})


def test_a_failed_try_on_one_worker_is_in_the_report_of_another(tmp_path: Path) -> None:
    work = str(tmp_path / "work")
    gpu = StateLayout(tmp_path / "gpu", work, clones=True)  # its disk is emptied after the task
    default = StateLayout(tmp_path / "default", work)
    append_failure(gpu, "skinrisk_retrain", "manual__1", "train", 1, "killed")
    append_failure(default, "skinrisk_retrain", "manual__1", "promote", 1, "MLflow down")
    append_failure(default, "skinrisk_retrain", "manual__2", "promote", 1, "another run")
    # The keeping worker's own stay on its disk: nothing a task there failed on is copied out.
    assert [k.split("/")[-1].split("-")[0] for k in open_store(work).list()] == ["train"]
    seen, unreadable = failures(default, "skinrisk_retrain", "manual__1")
    assert unreadable is None
    assert sorted((f["task_id"], f["error"]) for f in seen) == [
        ("promote", "MLflow down"), ("train", "killed")]
    # Without a working prefix a worker sees only its own disk, as before.
    assert [f["task_id"] for f in failures(StateLayout(tmp_path / "default"),
                                           "skinrisk_retrain", "manual__1")[0]] == ["promote"]


def test_an_unreadable_working_prefix_makes_the_report_incomplete_not_the_run_failed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.helpers.s3 import CREDENTIALS, moto_server

    default = StateLayout(tmp_path / "default", "s3://no-such-bucket/pipeline")
    append_failure(default, "skinrisk_retrain", "manual__1", "promote", 1, "MLflow down")
    with moto_server() as endpoint:  # a real S3 API that answers: that bucket is not there
        for key, value in {**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}.items():
            monkeypatch.setenv(key, value)
        seen, unreadable = failures(default, "skinrisk_retrain", "manual__1")
    assert [f["task_id"] for f in seen] == ["promote"]  # what this disk knows is still there
    assert unreadable and unreadable.startswith("failed tries of the GPU worker unreadable")


def test_a_worker_disk_is_emptied_but_kept_and_only_where_it_is_named(tmp_path: Path) -> None:
    pytest.importorskip("airflow.providers.celery", reason="the Celery worker's environment")
    from pipelines.celery_worker import wipe, wiped_folders

    home, tmp, kept = tmp_path / "home", tmp_path / "tmp", tmp_path / "kept"
    for folder in (home / "workspace" / "data", tmp, kept):
        folder.mkdir(parents=True)
    (home / "workspace" / "data" / "x.parquet").write_bytes(b"x")
    (home / "train.json").write_text("{}")
    (tmp / "link").symlink_to(kept)  # a link is removed, never followed
    (kept / "keep.txt").write_text("stays")
    clone = {"SKINRISK_WORKSPACE": "clone"}
    folders = wiped_folders({**clone, "SKINRISK_WIPE": f"{home}:{tmp}:{tmp_path / 'absent'}"})
    assert wipe(folders) == 3
    assert home.is_dir() and not list(home.iterdir()) and not list(tmp.iterdir())
    assert (kept / "keep.txt").read_text() == "stays"
    assert wipe(folders) == 0
    assert wiped_folders(clone) == []  # nothing named: nothing wiped, whatever the mode


@pytest.mark.parametrize(("wiped", "extra", "why"), [
    ("{home}", {"SKINRISK_WORKSPACE": "keep"}, "SKINRISK_WORKSPACE is not `clone`"),
    ("relative/path", {}, "not a folder this worker may empty"),
    ("/", {}, "not a folder this worker may empty"),  # holds everything
    ("{airflow}", {}, "not a folder this worker may empty"),  # Airflow's home: logs, settings
    ("{prefix}/lib", {}, "not a folder this worker may empty"),  # inside an environment
    ("{tmp}/ml", {"SKINRISK_ML_BIN": "{tmp}/ml/bin"}, "not a folder this worker may empty"),
    ("{repo}/dags", {}, "not a folder this worker may empty"),  # the code
    # the kept cache inside what is emptied would be emptied too: every task would start cold
    ("{tmp}/disk", {"SKINRISK_CACHE": "{tmp}/disk/cache"}, "the kept cache, SKINRISK_CACHE"),
])
def test_a_worker_set_up_to_wipe_what_it_must_not_does_not_start(
        tmp_path: Path, wiped: str, extra: dict[str, str], why: str) -> None:
    pytest.importorskip("airflow.providers.celery", reason="the Celery worker's environment")
    import sys

    from airflow.configuration import AIRFLOW_HOME

    from pipelines.celery_worker import wiped_folders

    names = {"home": tmp_path / "home", "airflow": AIRFLOW_HOME, "tmp": tmp_path,
             "prefix": sys.prefix, "repo": Path(__file__).resolve().parents[2]}
    env = {"SKINRISK_WORKSPACE": "clone", **{k: v.format(**names) for k, v in extra.items()},
           "SKINRISK_WIPE": wiped.format(**names)}
    with pytest.raises(SystemExit, match=why):
        wiped_folders(env)


def test_a_cloned_workspace_refuses_state_that_would_be_emptied_with_the_disk(
        tmp_path: Path) -> None:
    from skinrisk.versioning.checkout import require_off_disk

    home = tmp_path / "worker"
    servers = {"SKINRISK_HOME": str(home), "SKINRISK_WORKSPACE": "clone",
               "SKINRISK_WORK_URL": "s3://work/pipeline",
               "SKINRISK_DATABASE_URL": "postgresql://pipeline@db/skinrisk",
               "MLFLOW_TRACKING_URI": "http://mlflow:5000",
               "SKINRISK_GIT_REMOTE": "git://git/skinrisk-data.git",
               "SKINRISK_DVC_REMOTE": "s3://dvc/store"}

    def refused(**changes: str | None) -> str:
        env = {k: v for k, v in {**servers, **changes}.items() if v is not None}
        with pytest.MonkeyPatch.context() as patch:
            for name in ("SKINRISK_GIT_REMOTE", "SKINRISK_DVC_REMOTE"):
                patch.delenv(name, raising=False)
                if name in env:
                    patch.setenv(name, env[name])
            with pytest.raises(SkinriskError) as caught:
                require_off_disk(StateLayout.from_env(env), env)
        return str(caught.value)

    with pytest.MonkeyPatch.context() as patch:
        for name in ("SKINRISK_GIT_REMOTE", "SKINRISK_DVC_REMOTE"):
            patch.setenv(name, servers[name])
        require_off_disk(StateLayout.from_env(servers), servers)  # every store a server
    assert "SKINRISK_DATABASE_URL (the ledger, the locks)" in refused(SKINRISK_DATABASE_URL=None)
    assert "MLFLOW_TRACKING_URI" in refused(MLFLOW_TRACKING_URI=None)  # SQLite under home
    assert "MLFLOW_TRACKING_URI" in refused(MLFLOW_TRACKING_URI=f"sqlite:///{home}/m.db")
    assert "SKINRISK_GIT_REMOTE" in refused(SKINRISK_GIT_REMOTE=None)  # a bare repo under home
    assert "SKINRISK_DVC_REMOTE" in refused(SKINRISK_DVC_REMOTE=str(home / "dvc"))
    assert "SKINRISK_WORK_URL" in refused(SKINRISK_WORK_URL=str(home / "work"))
    assert "could not empty its disk" in refused(SKINRISK_WIPE_FAILED="PermissionError on /x")


def test_the_report_takes_this_runs_training_or_says_why_it_cannot(tmp_path: Path) -> None:
    """The train task's line decides: "null" (this run trained nothing) never shows what an
    earlier training left on the disk; a run key whose record is missing says so."""
    import json

    from pipelines.report import _training
    from skinrisk.reports import render

    home = tmp_path / "cpu"
    stale = StateLayout(home)
    stale.models.mkdir(parents=True)
    (stale.models / "train.json").write_text(json.dumps({"run_id": "old"}))
    assert _training(stale, "null") == (None, None)
    assert _training(stale, None)[0] == {"run_id": "old"}  # by hand: the disk is all there is
    layout = StateLayout(home, str(tmp_path / "work"))
    train, evaluation = _training(layout, json.dumps({"run_key": "k1", "run_id": "r1"}))
    assert train == {"run_key": "k1", "unavailable": "no finished-training record on the "
                     "working prefix (done.json)"} and evaluation is None
    text = render({"dag_id": "d", "run_id": "r", "written_at": "now", "outcome": "done",
                   "train": train, "evaluation": {"unavailable": "MLflow: down"},
                   "failures": [], "failures_unreadable": "failed tries unreadable: x"})
    assert "run key k1, record unavailable: no finished-training record" in text
    assert "- evaluation unavailable: MLflow: down" in text and "- INCOMPLETE: failed" in text


def test_imagenet_weights_are_looked_up_under_keras_home(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    from skinrisk.training.model import KERAS_FILE, keras_cache_file

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    assert keras_cache_file() == tmp_path / "keras" / "models" / KERAS_FILE
    monkeypatch.delenv("KERAS_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert keras_cache_file() == tmp_path / "home" / ".keras" / "models" / KERAS_FILE

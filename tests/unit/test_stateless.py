"""What a worker with a wiped disk relies on: the workspace mode read once, its folders emptied
around every task, failed tries recorded where another worker's report finds them."""

from __future__ import annotations

from pathlib import Path

import pytest

from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout
from skinrisk.reports import append_failure, failures


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
    gpu = StateLayout(tmp_path / "gpu", work)
    default = StateLayout(tmp_path / "default", work)
    append_failure(gpu, "skinrisk_retrain", "manual__1", "train", 1, "killed")
    append_failure(default, "skinrisk_retrain", "manual__1", "promote", 1, "MLflow down")
    append_failure(default, "skinrisk_retrain", "manual__2", "promote", 1, "another run")
    seen = failures(default, "skinrisk_retrain", "manual__1")
    # Each try once (the default worker's own also came back from the prefix), by time.
    assert sorted((f["task_id"], f["error"]) for f in seen) == [
        ("promote", "MLflow down"), ("train", "killed")]
    # Without a working prefix a worker sees only its own disk, as before.
    assert [f["task_id"] for f in failures(StateLayout(tmp_path / "default"),
                                           "skinrisk_retrain", "manual__1")] == ["promote"]


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
    folders = wiped_folders({"SKINRISK_WIPE": f"{home}:{tmp}:{tmp_path / 'absent'}"})
    assert wipe(folders) == 3
    assert home.is_dir() and not list(home.iterdir()) and not list(tmp.iterdir())
    assert (kept / "keep.txt").read_text() == "stays"
    assert wipe(folders) == 0
    with pytest.raises(ValueError, match="not an absolute folder"):
        wiped_folders({"SKINRISK_WIPE": "relative/path"})
    with pytest.raises(ValueError, match="not an absolute folder"):
        wiped_folders({"SKINRISK_WIPE": "/"})

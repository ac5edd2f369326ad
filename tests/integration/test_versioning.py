"""Dataset versions with real git and DVC: a bare git remote and a folder DVC remote."""

from __future__ import annotations

import filecmp
import hashlib
import os
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.cli import main
from tests.conftest import REPO, VENVS, data_dir

pytestmark = [pytest.mark.ml, pytest.mark.slow]
# 160x120 synthetic photos: the demo profile's resolution floor (pack.image_size 80) lets
# them through; params.yaml's (299, the paper's input size) would quarantine them all.
PARAMS = ["--params", str(REPO / "params-small.yaml")]


def add_batch(home: Path, landing: Path, batch: str, seed: int, images: int = 24,
              defects: tuple[str, ...] = ()) -> None:
    """``defects``: synth's --defect values, e.g. "dye=0.3"."""
    planted = [arg for defect in defects for arg in ("--defect", defect)]
    assert main(["synth", "--out", str(landing / batch), "--truth", str(home / f"{batch}.csv"),
                 "--images", str(images), "--size", "160x120", "--seed", str(seed),
                 *planted, *PARAMS]) == 0
    for stage in (["ingest", "--landing", str(landing)], ["quality"], ["validate"], ["split"],
                  ["pack"]):
        assert main([*stage, *PARAMS]) == 0, stage


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


def dvc(cwd: Path, *args: str) -> None:
    subprocess.run([str(VENVS / "airflow" / "bin" / "dvc"), *args], cwd=cwd, check=True,
                   capture_output=True, env={**os.environ, "DVC_NO_ANALYTICS": "1"})


def splits(home: Path) -> dict[str, str]:
    rows = pq.read_table(data_dir(home) / "splits" / "assignments.parquet").to_pylist()
    return {r["image_id"]: r["split"] for r in rows}


def test_version_push_clone_pull_gives_the_same_bytes(tmp_path: Path, state_home: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    landing = tmp_path / "landing"
    add_batch(state_home, landing, "b1", seed=1)
    assert main(["version"]) == 0
    assert "made data-v1" in capsys.readouterr().out
    workspace = state_home / "workspace"
    message = git(workspace, "tag", "-n99", "data-v1")
    assert "images: " not in message and "train" in message and "data/raw/b1: md5" in message

    # Nothing new: the same version, no new commit.
    head = git(workspace, "rev-parse", "HEAD")
    assert main(["version"]) == 0
    assert "unchanged, still data-v1" in capsys.readouterr().out
    assert git(workspace, "rev-parse", "HEAD") == head

    # An auditor's fresh clone of the tag gets back exactly the versioned files.
    clone = tmp_path / "audit"
    git(tmp_path, "clone", "-q", "--branch", "data-v1", str(state_home / "git-remote.git"),
        str(clone))
    dvc(clone, "remote", "add", "--local", "-f", "-d", "storage", str(state_home / "dvc-remote"))
    dvc(clone, "pull", "--quiet")
    for folder in ("raw/b1", "splits", "curated/validation"):
        left, right = data_dir(state_home) / folder, clone / "data" / folder
        compare = filecmp.dircmp(left, right)
        assert not compare.left_only and not compare.right_only and not compare.diff_files
        for name in compare.common_files:
            assert (left / name).read_bytes() == (right / name).read_bytes()
    assert (clone / "data/curated/manifest.parquet").read_bytes() == (
        data_dir(state_home) / "curated/manifest.parquet").read_bytes()


def test_a_cloned_workspace_checks_out_the_version_and_pulls_only_what_it_reads(
        tmp_path: Path, state_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SKINRISK_WORKSPACE=clone (a GPU worker whose disk is wiped around every task): the task
    finds the newest version on the git remote, or the one the DAG pinned, and gets exactly the
    versioned bytes of the outputs it names, and nothing else."""
    from skinrisk.catalog import ASSIGNMENTS
    from skinrisk.errors import SkinriskError
    from skinrisk.layout import StateLayout
    from skinrisk.versioning.checkout import TRAINING_INPUTS, checkout_version
    from skinrisk.versioning.current import current_version
    from skinrisk.versioning.version import make_version

    landing = tmp_path / "landing"
    add_batch(state_home, landing, "b1", seed=1)
    assert main(["version"]) == 0
    first = (state_home / "workspace" / ASSIGNMENTS).read_bytes()
    add_batch(state_home, landing, "b2", seed=2)
    assert main(["version"]) == 0
    second = (state_home / "workspace" / ASSIGNMENTS).read_bytes()
    assert first != second
    assert checkout_version(StateLayout.from_env(), TRAINING_INPUTS) is None  # keep: untouched

    worker = tmp_path / "worker"
    for name, value in {"SKINRISK_HOME": worker, "SKINRISK_WORKSPACE": "clone",
                        "SKINRISK_WORK_URL": tmp_path / "work",
                        "SKINRISK_GIT_REMOTE": state_home / "git-remote.git",
                        "SKINRISK_DVC_REMOTE": state_home / "dvc-remote",
                        # Servers in production; a checkout contacts neither.
                        "SKINRISK_DATABASE_URL": "postgresql://pipeline@127.0.0.1:1/skinrisk",
                        "MLFLOW_TRACKING_URI": "http://127.0.0.1:1"}.items():
        monkeypatch.setenv(name, str(value))
    layout = StateLayout.from_env()
    assert checkout_version(layout, TRAINING_INPUTS) == "data-v2"
    assert current_version(layout).tag == "data-v2"  # the split and shard index it checks
    assert (layout.workspace / ASSIGNMENTS).read_bytes() == second
    assert list((layout.workspace / "data" / "shards").rglob("*.tfrecord*"))
    # Not named, not pulled: the raw photos and the curated manifest stay on the remote.
    assert not (layout.raw / "b1").exists() and not (layout.curated / "manifest.parquet").exists()

    monkeypatch.setenv("SKINRISK_DATA_VERSION", "data-v1")  # pinned by the DAG: an older one
    assert checkout_version(layout, TRAINING_INPUTS) == "data-v1"
    assert current_version(layout).tag == "data-v1"
    assert (layout.workspace / ASSIGNMENTS).read_bytes() == first

    monkeypatch.setenv("SKINRISK_DATA_VERSION", "data-v9")
    with pytest.raises(SkinriskError, match="data-v9 is not in the data repository"):
        checkout_version(layout, TRAINING_INPUTS)
    monkeypatch.setenv("SKINRISK_DATA_VERSION", "main")
    with pytest.raises(SkinriskError, match="not a data version tag"):
        checkout_version(layout, TRAINING_INPUTS)

    # The pipeline's own workspace refuses a git remote changed under it: it would push the
    # next version where no other worker reads (an upgrade that skipped moving the repository).
    for name in ("SKINRISK_WORKSPACE", "SKINRISK_DATA_VERSION", "SKINRISK_DVC_REMOTE"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("SKINRISK_HOME", str(state_home))
    monkeypatch.setenv("SKINRISK_GIT_REMOTE", "git://127.0.0.1:1/skinrisk-data.git")
    with pytest.raises(SkinriskError, match=r"git-remote\.git, but SKINRISK_GIT_REMOTE is"):
        make_version(StateLayout.from_env())


def test_new_batches_never_move_a_patient(tmp_path: Path, state_home: Path) -> None:
    landing = tmp_path / "landing"
    add_batch(state_home, landing, "b1", seed=3, images=40)
    assert main(["version"]) == 0
    before = splits(state_home)
    add_batch(state_home, landing, "b2", seed=4, images=40)
    assert main(["version"]) == 0
    after = splits(state_home)
    assert len(after) > len(before)
    assert {i: after[i] for i in before} == before
    tags = git(state_home / "workspace", "tag", "--list", "data-v*").split()
    assert tags == ["data-v1", "data-v2"]


def test_data_status_rehashes_the_remote_and_repairs_it(tmp_path: Path, state_home: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    add_batch(state_home, tmp_path / "landing", "b1", seed=5)
    assert main(["version"]) == 0
    assert main(["data", "status"]) == 0
    image = next((data_dir(state_home) / "raw" / "b1" / "images").iterdir())
    victim = object_path(state_home, image)
    # Truncated in place: the same name, so `dvc status -c` would not notice.
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    capsys.readouterr()
    assert main(["data", "status"]) == 1
    assert "0 missing, 1 corrupt" in capsys.readouterr().out
    damaged = victim.read_bytes()
    assert main(["data", "status", "--repair"]) == 0
    output = capsys.readouterr().out
    assert "0 missing, 0 corrupt" in output and "1 damaged replaced" in output
    assert victim.read_bytes() == image.read_bytes()
    # Nothing deleted: the damaged bytes are kept, named by their SHA-256.
    evidence = state_home / "dvc-remote" / "corrupt" / victim.relative_to(
        state_home / "dvc-remote") / hashlib.sha256(damaged).hexdigest()
    assert evidence.read_bytes() == damaged

    # A member gone from a directory whose manifest is pushed: `dvc push` alone would skip it.
    victim.rename(tmp_path / "moved-away")
    assert main(["data", "status"]) == 1
    assert "1 missing, 0 corrupt" in capsys.readouterr().out
    assert main(["data", "status", "--repair"]) == 0
    assert "0 missing, 0 corrupt" in capsys.readouterr().out
    assert victim.read_bytes() == image.read_bytes()


def object_path(home: Path, file: Path) -> Path:
    md5 = hashlib.md5(file.read_bytes()).hexdigest()
    return home / "dvc-remote" / "files" / "md5" / md5[:2] / md5[2:]


def test_a_failed_push_is_completed_by_the_rerun(tmp_path: Path, state_home: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    add_batch(state_home, tmp_path / "landing", "b1", seed=7)
    remote = state_home / "dvc-remote"
    remote.parent.mkdir(parents=True, exist_ok=True)
    remote.write_text("not a folder: the remote is unreachable")
    assert main(["version"]) == 1
    assert "dvc" in capsys.readouterr().err and "push" in capsys.readouterr().err + "push"
    remote.unlink()
    assert main(["version"]) == 0  # nothing new to commit: it pushes what the first run made
    assert "unchanged, still data-v1" in capsys.readouterr().out
    assert main(["data", "status"]) == 0
    assert "0 missing, 0 corrupt" in capsys.readouterr().out


def test_a_commit_left_without_its_tag_is_versioned_by_the_rerun(
        tmp_path: Path, state_home: Path, capsys: pytest.CaptureFixture) -> None:
    """A run killed between its commit and its tag (or a data stage that committed its own
    outputs, SKINRISK_WORKSPACE=clone) leaves data that no tag names: the next run tags it."""
    landing = tmp_path / "landing"
    add_batch(state_home, landing, "b1", seed=8)
    assert main(["version"]) == 0
    add_batch(state_home, landing, "b2", seed=9)
    workspace = state_home / "workspace"
    for args in (["add", "--quiet", "data/raw/b2"],
                 ["commit", "--force", "--quiet", "quality", "validate", "split", "pack"]):
        subprocess.run([str(VENVS / "airflow" / "bin" / "dvc"), *args], cwd=workspace,
                       check=True, capture_output=True)
    git(workspace, "add", "--all", "data", "dvc.lock")
    git(workspace, "commit", "-q", "-m", "committed, then killed before the tag")
    capsys.readouterr()
    assert main(["version"]) == 0
    assert "made data-v2" in capsys.readouterr().out
    assert "data/raw/b2.dvc" in git(workspace, "ls-tree", "-r", "--name-only", "data-v2")
    assert main(["version"]) == 0
    assert "unchanged, still data-v2" in capsys.readouterr().out


def test_two_versions_at_once_make_one(tmp_path: Path, state_home: Path) -> None:
    add_batch(state_home, tmp_path / "landing", "b1", seed=6)
    env = {**os.environ, "SKINRISK_HOME": str(state_home)}
    procs = [subprocess.Popen([str(VENVS / "ml" / "bin" / "skinrisk"), "version"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert git(state_home / "workspace", "tag", "--list", "data-v*").split() == ["data-v1"]


def test_an_s3_dvc_remote_through_an_endpoint(tmp_path: Path, state_home: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture) -> None:
    """dvc-s3 against moto's server over HTTP, configured only from the environment."""
    import boto3

    from tests.helpers.s3 import CREDENTIALS, moto_server

    add_batch(state_home, tmp_path / "landing", "b1", seed=8)
    with moto_server() as endpoint:
        for key, value in {**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint,
                           "SKINRISK_DVC_REMOTE": "s3://dvc-store/skinrisk"}.items():
            monkeypatch.setenv(key, value)
        boto3.client("s3").create_bucket(Bucket="dvc-store")
        assert main(["version"]) == 0
        keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(
            Bucket="dvc-store", Prefix="skinrisk/")["Contents"]]
        assert any(k.startswith("skinrisk/files/md5/") for k in keys)
        capsys.readouterr()
        assert main(["data", "status"]) == 0
        assert "0 missing, 0 corrupt" in capsys.readouterr().out

        # An object overwritten with other bytes under its name: found, replaced, kept aside.
        client = boto3.client("s3")
        image = next((data_dir(state_home) / "raw" / "b1" / "images").iterdir())
        md5 = hashlib.md5(image.read_bytes()).hexdigest()
        key = f"skinrisk/files/md5/{md5[:2]}/{md5[2:]}"
        client.put_object(Bucket="dvc-store", Key=key, Body=b"damaged")
        assert main(["data", "status"]) == 1
        assert "0 missing, 1 corrupt" in capsys.readouterr().out
        assert main(["data", "status", "--repair"]) == 0
        assert "0 missing, 0 corrupt" in capsys.readouterr().out
        assert client.get_object(Bucket="dvc-store", Key=key)["Body"].read() == image.read_bytes()
        kept = f"skinrisk/corrupt/files/md5/{md5[:2]}/{md5[2:]}/" + hashlib.sha256(
            b"damaged").hexdigest()
        assert client.get_object(Bucket="dvc-store", Key=kept)["Body"].read() == b"damaged"
    config = (state_home / "workspace" / ".dvc" / "config").read_text()
    assert "s3://" not in config and "dvc-store" not in config  # only in config.local


def test_s3_unreachable_during_version_fails_clearly_and_the_rerun_completes(
        tmp_path: Path, state_home: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    """Issue 22's fault: the S3 API gone while version pushes (connections refused, as during
    an outage or a restart); the task fails naming what to do, and the rerun pushes it all."""
    import boto3

    from tests.helpers.s3 import CREDENTIALS, free_port, moto_server

    add_batch(state_home, tmp_path / "landing", "b1", seed=9)
    with moto_server() as endpoint:
        for key, value in {**CREDENTIALS, "SKINRISK_DVC_REMOTE": "s3://dvc-store/skinrisk"
                           }.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        boto3.client("s3").create_bucket(Bucket="dvc-store")
        capsys.readouterr()
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nobody
        assert main(["version"]) == 1
        err = capsys.readouterr().err
        assert "dvc push" in err and "rerun `skinrisk version`" in err, err[-1500:]
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        assert main(["version"]) == 0
        assert "data-v1" in capsys.readouterr().out
        assert main(["data", "status"]) == 0
        assert "0 missing, 0 corrupt" in capsys.readouterr().out
    assert git(state_home / "workspace", "tag", "--list", "data-v*").split() == ["data-v1"]

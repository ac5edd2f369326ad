"""Training checkpoints on the working prefix (SKINRISK_WORK_URL): a training killed mid-run and
retried on a wiped disk resumes from the object store, a folder or S3 (moto's server over HTTP),
at the epoch the store holds, and ends with the weights of an uninterrupted run.

One small cohort is versioned once per module; a tiny Xception (71 px, 2 epochs, 32 images)
trains on it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipelines.cli import main
from skinrisk.errors import SkinriskError
from skinrisk.storage.objects import ObjectStore, open_store
from tests.conftest import REPO, VENVS
from tests.helpers.s3 import CREDENTIALS, moto_server
from tests.integration.test_train_evaluate import EASY, _last_weights

pytestmark = [pytest.mark.ml, pytest.mark.slow]

EPOCHS = 2
EPOCH_RECORD = "/epochs/"


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(SKINRISK_HOME, params file) with one dataset version of a small easy cohort."""
    from skinrisk.taxonomy import OOD_TYPES, TUMOR_TYPES

    root = tmp_path_factory.mktemp("checkpoints")
    home, params = root / "state", root / "params.yaml"
    data = json.loads(json.dumps(EASY))
    data["synth"].update(images=160, tumor_types=[t.key for t in (*TUMOR_TYPES, *OOD_TYPES)])
    data["train"].update(max_images=32, epochs=EPOCHS, image_size=71)
    params.write_text(yaml.safe_dump(data))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SKINRISK_HOME", str(home))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.delenv("SKINRISK_WORK_URL", raising=False)
        args = ["--params", str(params)]
        assert main(["synth", "--out", str(root / "landing" / "b1"), "--truth",
                     str(root / "b1.csv"), *args]) == 0
        for stage in (["ingest", "--landing", str(root / "landing")], ["quality"],
                      ["validate"], ["split"], ["pack"]):
            assert main([*stage, *args]) == 0, stage
        assert main(["version"]) == 0
        yield home, params


@pytest.fixture()
def in_home(cohort: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """The cohort's home on a machine that has never trained: no local checkpoints."""
    home = cohort[0]
    shutil.rmtree(home / "checkpoints", ignore_errors=True)
    monkeypatch.setenv("SKINRISK_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("SKINRISK_WORK_URL", raising=False)
    return cohort


@pytest.fixture(scope="module")
def uninterrupted(cohort: tuple[Path, Path]) -> list[np.ndarray]:
    """The final weights of a run never killed, without a working prefix (today's behaviour)."""
    home, params = cohort
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SKINRISK_HOME", str(home))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.delenv("SKINRISK_WORK_URL", raising=False)
        assert main(["train", "--params", str(params)]) == 0
    [state] = (home / "checkpoints").glob("*/state.json")
    return _last_weights(state.parent)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture()
def work_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """An empty working prefix on S3, set in the environment the way production sets it. (A
    folder prefix goes through the same ObjectStore calls: the reuse test above restores from
    one on a wiped disk; a second kill-and-resume on it cost CI ~2.5 minutes for no new path.)"""
    import boto3

    endpoint = request.getfixturevalue("s3_endpoint")
    for key, value in {**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}.items():
        monkeypatch.setenv(key, value)
    boto3.client("s3").create_bucket(Bucket="work")
    url = "s3://work/prefix"
    monkeypatch.setenv("SKINRISK_WORK_URL", url)
    return url


def _epochs_done(store: ObjectStore) -> list[int]:
    return sorted(int(k.rpartition("/")[2].removesuffix(".json")) for k in store.list()
                  if EPOCH_RECORD in k)


def _kill_after_first_epoch(home: Path, params: Path, store: ObjectStore) -> None:
    """A gpu worker lost mid-run (SIGKILL: no cleanup) once an epoch reached the store."""
    env = {**os.environ, "SKINRISK_HOME": str(home)}
    worker = subprocess.Popen([str(VENVS / "ml" / "bin" / "skinrisk"), "train", "--params",
                               str(params)], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and worker.poll() is None and not _epochs_done(store):
        time.sleep(0.2)
    assert worker.poll() is None, worker.stderr.read() if worker.stderr else "worker ended"
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()


def test_a_trained_run_key_is_reused_from_the_store_and_fresh_starts_a_new_generation(
        in_home: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home, two_epochs = in_home
    params = tmp_path / "params.yaml"  # one epoch: what is kept matters here, not the weights
    data = yaml.safe_load(two_epochs.read_text())
    data["train"]["epochs"] = 1
    params.write_text(yaml.safe_dump(data))
    url = str(tmp_path / "work")
    monkeypatch.setenv("SKINRISK_WORK_URL", url)
    store = open_store(url)
    assert main(["train", "--params", str(params)]) == 0
    first = store.list()
    run_id = json.loads((home / "workspace" / "models" / "train.json").read_text())["run_id"]

    shutil.rmtree(home / "checkpoints")  # another machine: done there, nothing retrained
    assert main(["train", "--params", str(params)]) == 0
    assert store.list() == first
    assert json.loads((home / "workspace" / "models" / "train.json").read_text())["run_id"] == (
        run_id)

    assert main(["train", "--params", str(params), "--fresh"]) == 0
    assert set(first) < set(store.list())  # nothing of generation 1 deleted
    record = json.loads((home / "workspace" / "models" / "train.json").read_text())
    assert record["run_id"] != run_id and record["resumed_at_epoch"] is None
    assert any(k.endswith("/gen-0002/epochs/0001.json") for k in store.list())
    assert (home / "checkpoints" / record["run_key"] / "gen-0002" / "done.json").is_file()


def _fake_epoch(folder: Path, epochs_done: int) -> None:
    """A local checkpoint as the loop leaves it (the bytes stand for models)."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"epoch-{epochs_done:04d}.keras"
    (folder / name).write_bytes(f"model after {epochs_done}".encode())
    (folder / "best.keras").write_bytes(b"best model")
    state = {"checkpoint": name, "progress": {"next_epoch": epochs_done}, "history": []}
    (folder / "state.json").write_text(json.dumps(state))


def test_a_half_uploaded_epoch_is_never_restored(tmp_path: Path) -> None:
    from skinrisk.training.checkpoint_mirror import open_mirror

    url = str(tmp_path / "work")
    mirror = open_mirror(url, "key")
    trainer = mirror.folder(tmp_path / "a")
    _fake_epoch(trainer, 1)
    mirror.push_epoch(trainer)
    # Epoch 2's model reached the store, then the worker died before its epoch record.
    _fake_epoch(trainer, 2)
    store = open_store(url)
    store.put_if_absent(f"{mirror.prefix}models/0123.keras", b"model after 2")

    retry = open_mirror(url, "key")
    wiped = retry.folder(tmp_path / "b")
    retry.restore(wiped)
    assert json.loads((wiped / "state.json").read_text())["progress"]["next_epoch"] == 1
    assert (wiped / "epoch-0001.keras").read_bytes() == b"model after 1"
    assert not (wiped / "epoch-0002.keras").exists()

    # The trainer's own disk is further than the store: it wins, and catches the store up.
    retry.restore(trainer)
    assert json.loads((trainer / "state.json").read_text())["progress"]["next_epoch"] == 2
    assert any(k.endswith("/epochs/0002.json") for k in store.list())


def test_another_machine_reads_a_finished_training_and_only_its_best_model(
        tmp_path: Path) -> None:
    """What `skinrisk evaluate` on a wiped GPU worker does (SKINRISK_WORKSPACE=clone): find the
    run key's newest generation without claiming one, read its done record, and fetch only the
    best model, once."""
    from skinrisk.training.checkpoint_mirror import open_mirror, trained_mirror

    url = str(tmp_path / "work")
    assert trained_mirror(url, "key") is None  # never trained: nothing claimed either
    assert open_store(url).list() == []
    mirror = open_mirror(url, "key")
    trainer = mirror.folder(tmp_path / "trainer")
    for epochs in (1, 2):
        _fake_epoch(trainer, epochs)
        (trainer / "best.keras").write_bytes(f"best after {epochs}".encode())
        mirror.push_epoch(trainer)
    (trainer / "done.json").write_text(json.dumps({"run_id": "r1", "best_model": "best.keras"}))
    mirror.keep(trainer / "done.json")

    finished = trained_mirror(url, "key")
    assert finished is not None and finished.name == "gen-0001"
    assert finished.record("done.json") == {"run_id": "r1", "best_model": "best.keras"}
    assert finished.record("logged.json") is None
    worker = tmp_path / "worker"
    best = finished.best_model(worker)
    assert best.read_bytes() == b"best after 2"
    assert sorted(p.name for p in worker.iterdir()) == ["best.keras", "best.keras.source"]
    best.write_bytes(b"kept")  # on a kept disk the model is not fetched again
    assert finished.best_model(worker).read_bytes() == b"kept"


def test_a_damaged_model_in_the_store_is_refused_naming_its_key(tmp_path: Path) -> None:
    from skinrisk.training.checkpoint_mirror import open_mirror

    url = str(tmp_path / "work")
    mirror = open_mirror(url, "key")
    _fake_epoch(tmp_path / "a", 1)
    mirror.push_epoch(tmp_path / "a")
    [model] = [p for p in (tmp_path / "work").rglob("*.keras")
               if p.read_bytes() == b"model after 1"]
    model.chmod(0o644)
    model.write_bytes(b"model after 1, bit-flipped")
    with pytest.raises(SkinriskError, match=rf"{model.name}: the bytes read back do not hash"):
        open_mirror(url, "key").restore(tmp_path / "b")
    assert not (tmp_path / "b" / "state.json").exists()


@pytest.mark.parametrize("where", ["s3", "folder"])
def test_an_unreachable_working_prefix_stops_the_training_before_it_starts(
        in_home: tuple[Path, Path], where: str, tmp_path: Path, request: pytest.FixtureRequest,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    home, params = in_home
    if where == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        for key, value in {**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}.items():
            monkeypatch.setenv(key, value)
        url = "s3://no-such-bucket/work"
    else:
        (tmp_path / "a-file").write_text("")
        url = str(tmp_path / "a-file" / "work")  # a path no folder can be made at
    monkeypatch.setenv("SKINRISK_WORK_URL", url)
    assert main(["train", "--params", str(params)]) == 1
    message = " ".join(capsys.readouterr().err.split())
    assert f"SKINRISK_WORK_URL={url}: the working prefix cannot be read or written" in message
    assert "does not start afresh" in message and "unset SKINRISK_WORK_URL" in message
    assert not list((home / "checkpoints").rglob("state.json"))


def test_a_retry_on_a_wiped_disk_resumes_from_the_store_at_the_stored_epoch(
        in_home: tuple[Path, Path], work_url: str, uninterrupted: list[np.ndarray]) -> None:
    import mlflow

    home, params = in_home
    store = open_store(work_url)
    head = _head()
    _kill_after_first_epoch(home, params, store)
    killed_at = max(_epochs_done(store))
    assert 1 <= killed_at < EPOCHS
    [killed_key] = {k.split("/")[1] for k in store.list()}
    shutil.rmtree(home / "checkpoints")  # the retry runs on another machine

    assert main(["train", "--params", str(params)]) == 0
    record = json.loads((home / "workspace" / "models" / "train.json").read_text())
    if record["run_key"] != killed_key and _head() != head:
        pytest.skip(reason="HEAD moved between the killed run and the retry (a commit in this "
                    "shared checkout): the run key hashes the code commit, so they are two "
                    "trainings")
    assert record["run_key"] == killed_key
    assert record["resumed_at_epoch"] == killed_at
    [link] = [k for k in store.list() if k.endswith("/gen-0001/mlflow.json")]
    assert json.loads(store.get(link))["run_id"] == record["run_id"]  # the killed run continued
    history = mlflow.MlflowClient().get_metric_history(record["run_id"], "loss")
    assert sorted(m.step for m in history) == list(range(EPOCHS))  # every epoch once
    assert _epochs_done(store) == list(range(1, EPOCHS + 1))
    assert any(k.endswith("/gen-0001/done.json") for k in store.list())
    local = home / "checkpoints" / record["run_key"] / "gen-0001"
    _assert_same_weights(_last_weights(local), uninterrupted)


def _head() -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                          text=True, check=True).stdout.strip()


def _assert_same_weights(got: list[np.ndarray], expected: list[np.ndarray]) -> None:
    assert len(got) == len(expected)
    worst = max(float(np.max(np.abs(a - b))) for a, b in zip(got, expected, strict=True))
    assert worst == 0.0, f"resumed weights differ from an uninterrupted run by {worst}"

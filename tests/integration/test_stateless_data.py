"""The data stages with no disk kept between tasks (SKINRISK_WORKSPACE=clone, issue 22).

Every stage runs on an emptied SKINRISK_HOME, as a Kubernetes pod or a wiped Celery worker does:
records in PostgreSQL, the data branch on a git remote, objects on a DVC remote, refused files
in their own private store. What one stage wrote must reach the next through those alone, and
two deliveries must give the versions the embedded workspace would.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.cli import main
from skinrisk.versioning.session import quarantine_key
from tests.conftest import REPO, VENVS
from tests.helpers.postgres import database_url, fresh_database

pytestmark = [pytest.mark.ml, pytest.mark.slow]
PARAMS = ["--params", str(REPO / "params-small.yaml")]
STAGES = (["quality", *PARAMS], ["validate", *PARAMS], ["split", *PARAMS], ["pack", *PARAMS],
          ["version"])


@pytest.fixture
def stateless(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Path]]:
    """A worker's home that the test empties before every stage, and the servers around it."""
    places = {name: tmp_path / name for name in
              ("home", "landing", "git", "dvc", "work", "quarantine", "truth")}
    with fresh_database() as name:
        for variable, value in {
                "SKINRISK_HOME": places["home"], "SKINRISK_WORKSPACE": "clone",
                "SKINRISK_WORK_URL": places["work"], "SKINRISK_GIT_REMOTE": places["git"],
                "SKINRISK_DVC_REMOTE": places["dvc"],
                "SKINRISK_QUARANTINE_URL": places["quarantine"],
                "SKINRISK_DATABASE_URL": database_url(name),
                "MLFLOW_TRACKING_URI": "http://127.0.0.1:1"}.items():  # no data stage calls it
            monkeypatch.setenv(variable, str(value))
        yield places


def _pending(places: dict[str, Path], capsys: pytest.CaptureFixture) -> list[str]:
    shutil.rmtree(places["home"], ignore_errors=True)
    capsys.readouterr()
    assert main(["batch", "pending", "--landing", str(places["landing"])]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def _deliver(places: dict[str, Path], batch: str, seed: int,
             capsys: pytest.CaptureFixture) -> None:
    assert main(["synth", "--out", str(places["landing"] / batch), "--truth",
                 str(places["truth"] / f"{batch}.csv"), "--images", "24", "--size", "160x120",
                 "--seed", str(seed), "--defect", "duplicate=0.15", *PARAMS]) == 0
    # What the ingest DAG maps its tasks over: on a wiped disk, the data branch says what is in.
    assert _pending(places, capsys) == [batch]
    for stage in (["ingest", "--landing", str(places["landing"]), *PARAMS], *STAGES):
        shutil.rmtree(places["home"], ignore_errors=True)  # what a wiped worker starts from
        assert main(stage) == 0, stage


def _checkout(places: dict[str, Path], tag: str, into: Path) -> Path:
    """An auditor's clone of a version, its data pulled from the DVC remote."""
    subprocess.run(["git", "clone", "-q", "--branch", tag, str(places["git"]), str(into)],
                   check=True, capture_output=True)
    dvc = VENVS / "airflow" / "bin" / "dvc"
    for args in (["remote", "add", "--local", "-f", "-d", "storage", str(places["dvc"])],
                 ["pull", "--quiet"]):
        subprocess.run([str(dvc), *args], cwd=into, check=True, capture_output=True)
    return into


def test_data_stages_on_wiped_disks_make_the_versions_and_lose_nothing(
        stateless: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    places = stateless
    _deliver(places, "b1", seed=1, capsys=capsys)
    _deliver(places, "b2", seed=2, capsys=capsys)
    assert _pending(places, capsys) == []
    tags = subprocess.run(["git", "ls-remote", "--tags", str(places["git"])], check=True,
                          capture_output=True, text=True).stdout
    assert "refs/tags/data-v1" in tags and "refs/tags/data-v2" in tags
    assert "data-v3" not in tags

    first = _checkout(places, "data-v1", tmp_path / "v1")
    second = _checkout(places, "data-v2", tmp_path / "v2")
    assert sorted(p.name for p in (second / "data/raw").iterdir() if p.is_dir()) == ["b1", "b2"]
    # Each stage read what the one before pushed: the version holds every stage's output.
    for path in ("data/curated/manifest.parquet", "data/curated/validation/b2/verdict.json",
                 "data/splits/assignments.parquet", "data/shards/index.parquet"):
        assert (second / path).is_file(), path
    # Split by patient, frozen: b1's images keep their sets when b2 arrives.
    before = {r["image_id"]: r["split"]
              for r in pq.read_table(first / "data/splits/assignments.parquet").to_pylist()}
    after = {r["image_id"]: r["split"]
             for r in pq.read_table(second / "data/splits/assignments.parquet").to_pylist()}
    assert before and all(after[i] == s for i, s in before.items())

    # Nothing lost: every file sent is accepted into the raw zone or quarantined, and each
    # quarantined file is in the private store, not in git, DVC or the working prefix.
    for batch in ("b1", "b2"):
        sent = list((places["landing"] / batch / "images").iterdir())
        accepted = pq.read_table(second / f"data/raw/{batch}/images.parquet").num_rows
        refused = pq.read_table(second / f"data/raw/{batch}/quarantine.parquet").to_pylist()
        assert accepted + len(refused) == len(sent), batch
        kept = {p.relative_to(places["quarantine"]).as_posix()
                for p in (places["quarantine"] / batch).iterdir()}
        # One object per content: two copies of one photo are the same refused bytes.
        assert refused and kept == {quarantine_key(batch, r) for r in refused}
        for record in refused:  # as received: the bytes ingest hashed
            data = (places["quarantine"] / quarantine_key(batch, record)).read_bytes()
            assert hashlib.sha256(data).hexdigest() == record["received_sha256"]
    assert (places["quarantine"].stat().st_mode & 0o077) == 0  # private, like the local zone
    assert not (second / "quarantine").exists()

    # An operator's shell on a fresh pod (infra/k8s/ops-pod.yaml) asks the servers, not a disk:
    # `data status` lists both versions and re-hashes the remote's objects.
    shutil.rmtree(places["home"], ignore_errors=True)
    capsys.readouterr()
    assert main(["data", "status"]) == 0
    status = capsys.readouterr().out
    assert "data-v1" in status and "data-v2" in status and " 0 missing, 0 corrupt" in status
    # `audit image` by id on a fresh disk: found through the newest version's tables, and
    # followed through both versions.
    image_id = pq.read_table(second / "data/raw/b1/images.parquet")["image_id"][0].as_py()
    shutil.rmtree(places["home"], ignore_errors=True)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")  # no runs yet
    out = tmp_path / "audit"
    assert main(["audit", "image", image_id[:12], "--out", str(out)]) == 0
    trace = json.loads((out / "audit.json").read_text())
    assert [v["version"] for v in trace["images"][0]["versions"]] == ["data-v1", "data-v2"]
    # --repair uploads from a DVC cache that no cloning disk keeps: refused, naming the way out.
    shutil.rmtree(places["home"], ignore_errors=True)
    assert main(["data", "status", "--repair"]) != 0
    assert "restore the DVC remote's bucket from its backup" in capsys.readouterr().err

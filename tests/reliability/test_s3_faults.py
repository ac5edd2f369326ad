"""Case 4: S3 faults between the landing zone and ingest — 5xx and throttling answers, a
connection reset mid-download, a body damaged in transit — injected by a proxy in front of a
real S3 API (moto's server)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from pipelines.cli import main
from tests.conftest import REPO, data_dir
from tests.helpers.faulty_proxy import Fault, FaultyProxy
from tests.helpers.invariants import assert_invariants, landing_files
from tests.helpers.s3 import CREDENTIALS, moto_server, upload_batch

PARAMS = ["--params", str(REPO / "params.yaml")]
BATCH = "hosp-faults"


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, Path, list[str]]:
    """(moto endpoint, bucket, the batch as sent, its image keys) — uploaded once."""
    root = tmp_path_factory.mktemp("s3faults")
    batch = root / BATCH
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SKINRISK_HOME", str(root / "unused"))
        assert main(["synth", "--out", str(batch), "--truth", str(root / "t.csv"),
                     "--images", "12", "--size", "64x48", *PARAMS]) == 0
    with moto_server() as endpoint, pytest.MonkeyPatch.context() as patch:
        for key, value in CREDENTIALS.items():
            patch.setenv(key, value)
        client = boto3.client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket="landing")
        upload_batch(client, batch, "landing", "in/")
        images = sorted(p.relative_to(batch).as_posix() for p in batch.rglob("*.jpg"))
        yield endpoint, "landing", batch, images


def _ingest(home: Path, proxy: FaultyProxy, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("SKINRISK_HOME", str(home))
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
    return main(["ingest", "--landing", "s3://landing/in/", *PARAMS])


def _image_ids(home: Path) -> list[str]:
    import pyarrow.parquet as pq

    table = pq.read_table(data_dir(home) / "raw" / BATCH / "images.parquet", columns=["image_id"])
    return sorted(table.column("image_id").to_pylist())


def test_transient_faults_are_retried_and_the_batch_lands_as_without_them(
        landed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint, _, batch, images = landed
    with FaultyProxy(endpoint) as clean:
        assert _ingest(tmp_path / "clean", clean, monkeypatch) == 0
    with FaultyProxy(endpoint) as proxy:
        throttled = proxy.add(Fault("status", images[0], status=503, times=2))
        failed = proxy.add(Fault("status", images[1], status=500, times=1))
        reset = proxy.add(Fault("reset", images[2], times=1))
        listing = proxy.add(Fault("status", "list-type=2", status=503, times=1))
        assert _ingest(tmp_path / "faulty", proxy, monkeypatch) == 0
        assert [f.fired for f in (throttled, failed, reset, listing)] == [2, 1, 1, 1]
        assert proxy.count("GET", images[0]) >= 3  # two refusals, then the retry that worked
    assert _image_ids(tmp_path / "faulty") == _image_ids(tmp_path / "clean")
    assert_invariants(tmp_path / "faulty", {BATCH: landing_files(batch)})


def test_a_persistent_5xx_fails_clearly_after_retries_and_a_rerun_completes(
        landed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    endpoint, _, batch, images = landed
    home = tmp_path / "state"
    with FaultyProxy(endpoint) as proxy:
        proxy.add(Fault("status", images[3], status=500, times=-1))
        assert _ingest(home, proxy, monkeypatch) == 1
        attempts = proxy.count("GET", images[3])
    err = capsys.readouterr().err.replace("\n", "")
    assert images[3] in err and "500" in err, err
    assert 3 <= attempts <= 12, attempts  # retried with backoff, then given up
    assert not (data_dir(home) / "raw" / BATCH / "report.json").exists()  # nothing committed
    with FaultyProxy(endpoint) as proxy:
        assert _ingest(home, proxy, monkeypatch) == 0
    assert_invariants(home, {BATCH: landing_files(batch)})


def test_a_body_damaged_in_transit_is_rejected_not_ingested(
        landed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    endpoint, _, batch, images = landed
    home = tmp_path / "state"
    with FaultyProxy(endpoint) as proxy:
        proxy.add(Fault("corrupt", images[4], times=-1))
        assert _ingest(home, proxy, monkeypatch) == 1
    err = capsys.readouterr().err.replace("\n", "")
    assert images[4] in err and ("checksum" in err.lower() or "SHA-256" in err), err
    assert not (data_dir(home) / "raw" / BATCH / "report.json").exists()
    # One damaged transfer, then a good one: the retry inside the read recovers it.
    with FaultyProxy(endpoint) as proxy:
        once = proxy.add(Fault("corrupt", images[4], times=1))
        assert _ingest(home, proxy, monkeypatch) == 0
        assert once.fired == 1
    assert_invariants(home, {BATCH: landing_files(batch)})
    report = json.loads((data_dir(home) / "raw" / BATCH / "report.json").read_text())
    assert report["files_in"] == landing_files(batch)

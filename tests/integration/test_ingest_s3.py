"""Ingest from an S3 landing zone, over HTTP, against moto's standalone server."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pyarrow.parquet as pq
import pytest

from pipelines.cli import main
from tests.conftest import REPO, data_dir
from tests.helpers.s3 import CREDENTIALS, moto_server, upload_batch

PARAMS = ["--params", str(REPO / "params.yaml")]


@pytest.fixture(scope="module")
def s3_endpoint() -> str:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture()
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch):
    """A client and a fresh bucket; the environment set the way production sets it."""
    for key, value in {**CREDENTIALS, "AWS_ENDPOINT_URL": s3_endpoint}.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3")
    bucket = f"landing-{len(client.list_buckets()['Buckets'])}"
    client.create_bucket(Bucket=bucket)
    return client, bucket


def _rows(home: Path, batch: str) -> list[dict]:
    rows = pq.read_table(data_dir(home) / "raw" / batch / "images.parquet").to_pylist()
    return sorted(({k: v for k, v in r.items() if k not in ("ingested_at", "patient", "lesion",
                                                          "device")}  # keyed per private store
                   for r in rows), key=lambda r: r["image_id"])


def test_s3_and_local_landing_give_the_same_raw_zone(tmp_path: Path, s3,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    client, bucket = s3
    batch = tmp_path / "local" / "hosp-2026-11"
    assert main(["synth", "--out", str(batch), "--truth", str(tmp_path / "t.csv"),
                 "--images", "20", "--size", "64x48", "--defect", "corrupt=0.1",
                 *PARAMS]) == 0
    upload_batch(client, batch, bucket, "drops/")
    monkeypatch.setenv("SKINRISK_HOME", str(tmp_path / "from-s3"))
    assert main(["ingest", "--landing", f"s3://{bucket}/drops/", *PARAMS]) == 0
    monkeypatch.setenv("SKINRISK_HOME", str(tmp_path / "from-folder"))
    assert main(["ingest", "--landing", str(tmp_path / "local"), *PARAMS]) == 0
    from_s3 = _rows(tmp_path / "from-s3", "hosp-2026-11")
    assert from_s3 == _rows(tmp_path / "from-folder", "hosp-2026-11")
    assert len(from_s3) >= 15
    report = json.loads((data_dir(tmp_path / "from-s3") / "raw" / "hosp-2026-11" /
                         "report.json").read_text())
    assert report["landing"] == f"s3://{bucket}/drops/"
    assert report["files_in"] == 20 == report["accepted"] + report["quarantined_files"]


def test_an_s3_batch_without_its_marker_is_left_alone(tmp_path: Path, s3,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture) -> None:
    client, bucket = s3
    batch = tmp_path / "local" / "half-uploaded"
    assert main(["synth", "--out", str(batch), "--truth", str(tmp_path / "t.csv"),
                 "--images", "4", "--size", "64x48", *PARAMS]) == 0
    upload_batch(client, batch, bucket, "", with_marker=False)
    monkeypatch.setenv("SKINRISK_HOME", str(tmp_path / "state"))
    assert main(["ingest", "--landing", f"s3://{bucket}", *PARAMS]) == 0
    assert "without _READY: half-uploaded" in capsys.readouterr().err
    assert not (data_dir(tmp_path / "state") / "raw" / "half-uploaded").exists()
    before = client.list_objects_v2(Bucket=bucket)["KeyCount"]
    assert before == 5  # nothing in the landing zone was touched


def test_an_unknown_batch_id_on_s3_is_an_error_naming_it(tmp_path: Path, s3,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture) -> None:
    _, bucket = s3
    monkeypatch.setenv("SKINRISK_HOME", str(tmp_path / "state"))
    assert main(["ingest", "--landing", f"s3://{bucket}/x/", "--batch", "nope", *PARAMS]) == 1
    assert "--batch nope: no such batch in s3://" in capsys.readouterr().err


def test_the_ledger_is_archived_write_once_on_s3_and_anchors_the_local_chain(
        s3, state_home: Path) -> None:
    from skinrisk.audit.archive import check_anchor, publish
    from skinrisk.errors import SkinriskError
    from skinrisk.layout import StateLayout
    from skinrisk.ledger import append, ledger_path

    client, bucket = s3
    layout = StateLayout.from_env()
    for n in range(3):
        append(layout, "dataset_version", {"tag": f"data-v{n + 1}"}, "user:t")
    archive = f"s3://{bucket}/dvc/ledger/"
    name = publish(ledger_path(layout), archive)
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == [f"dvc/ledger/{name}"]
    assert client.get_object(Bucket=bucket, Key=keys[0])["Body"].read() == (
        ledger_path(layout).read_bytes())
    assert publish(ledger_path(layout), archive) == name  # idempotent
    assert check_anchor(ledger_path(layout), archive).ok
    # A copy whose name is taken by other bytes (damaged, or forged) is refused, not replaced.
    client.put_object(Bucket=bucket, Key=keys[0], Body=b"something else\n")
    with pytest.raises(SkinriskError, match="already exists with other content"):
        publish(ledger_path(layout), archive)
    ledger_path(layout).write_text("".join(ledger_path(layout).read_text()
                                           .splitlines(keepends=True)[:2]))
    anchor = check_anchor(ledger_path(layout), archive)
    assert not anchor.ok and "entries were removed" in anchor.why


def test_s3_keys_that_could_leave_the_prefix_are_never_fetched_and_bad_ids_never_read(
        tmp_path: Path, s3, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    """Issue 19: on S3 only the keys under the batch's prefix are read; a key with '..' or an
    empty segment is quarantined unread, a same-size change to a committed batch is refused,
    and a prefix that is not a batch id is never listed into."""
    client, bucket = s3
    batch = tmp_path / "local" / "s1"
    assert main(["synth", "--out", str(batch), "--truth", str(tmp_path / "t.csv"),
                 "--images", "4", "--size", "64x48", *PARAMS]) == 0
    upload_batch(client, batch, bucket, "in/")
    client.put_object(Bucket=bucket, Key="secret/passwd.jpg", Body=b"TOP-SECRET")
    for key in ("in/s1/../../secret/passwd.jpg", "in/s1/a//b.jpg"):
        client.put_object(Bucket=bucket, Key=key, Body=b"TOP-SECRET")
    client.put_object(Bucket=bucket, Key="in/bad id/_READY", Body=b"{}")
    monkeypatch.setenv("SKINRISK_HOME", str(tmp_path / "state"))
    assert main(["ingest", "--landing", f"s3://{bucket}/in/", *PARAMS]) == 0
    said = " ".join(capsys.readouterr().err.split())
    assert "1 landing entr(y/ies)" in said and "bad id" not in said
    report = json.loads((data_dir(tmp_path / "state") / "raw" / "s1" / "report.json")
                        .read_text())
    assert report["by_reason"].get("not_regular_file") == 2
    kept = list((tmp_path / "state" / "quarantine" / "s1").iterdir())
    assert not any(b"TOP-SECRET" in p.read_bytes() for p in kept)
    # A same-size edit of a committed image (new ETag, same size) is refused.
    key = next(k["Key"] for k in client.list_objects_v2(Bucket=bucket, Prefix="in/s1/")
               ["Contents"] if k["Key"].endswith(".jpg") and "//" not in k["Key"]
               and ".." not in k["Key"])
    data = bytearray(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    data[-5] ^= 0xFF
    client.put_object(Bucket=bucket, Key=key, Body=bytes(data))
    assert main(["ingest", "--landing", f"s3://{bucket}/in/", *PARAMS]) == 1
    assert "1 file(s) changed" in capsys.readouterr().err

"""The audit's reads of DVC objects: the workspace cache first, then the remote through the one
object store, where only a missing key counts as absent."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from skinrisk.audit.versions import DataVersions
from skinrisk.errors import SkinriskError
from skinrisk.versioning.remote import remote_key


def _versions(tmp_path: Path, remote: str) -> DataVersions:
    (tmp_path / "workspace" / ".git").mkdir(parents=True)
    return DataVersions(tmp_path / "workspace", remote)


def test_an_object_is_read_from_the_remote_when_the_cache_lacks_it(tmp_path: Path) -> None:
    data = b"a versioned table"
    md5 = hashlib.md5(data).hexdigest()
    remote = tmp_path / "remote"
    (remote / remote_key(md5)).parent.mkdir(parents=True)
    (remote / remote_key(md5)).write_bytes(data)
    versions = _versions(tmp_path, str(remote))
    assert versions.object(md5, "the split table") == data
    with pytest.raises(SkinriskError, match="neither in the workspace cache nor in the remote"):
        versions.object(hashlib.md5(b"other").hexdigest(), "the split table")
    (remote / remote_key(md5)).write_bytes(b"damaged")
    with pytest.raises(SkinriskError, match="does not hash to its name"):
        _versions(tmp_path / "again", str(remote)).object(md5, "the split table")


def test_an_unreachable_s3_remote_is_not_taken_for_a_missing_object(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("boto3", reason="the S3 client (boto3)")
    from tests.helpers.s3 import CREDENTIALS, free_port

    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nobody there
    versions = _versions(tmp_path, "s3://dvc-store/skinrisk")
    with pytest.raises(SkinriskError) as caught:
        versions.object(hashlib.md5(b"x").hexdigest(), "the split table")
    assert "neither in the workspace cache" not in str(caught.value)


@pytest.mark.ml  # once is enough: botocore's connection retries make it slow (~2 min here)
def test_an_s3_store_with_nobody_at_the_endpoint_fails_clearly_on_every_call(
        monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("boto3", reason="the S3 client (boto3)")
    from skinrisk.storage.objects import open_store
    from tests.helpers.s3 import CREDENTIALS, free_port

    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    store = open_store("s3://work/prefix")
    for call in (lambda: store.list(""), lambda: store.get("a/b"),
                 lambda: store.put_if_absent("a/b", b"bytes")):
        with pytest.raises(SkinriskError, match="no \\(whole\\) answer from S3"):
            call()

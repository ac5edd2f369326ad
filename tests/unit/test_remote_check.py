"""The DVC remote re-hash and its repair, on a tiny hand-made workspace (no DVC needed), through
both object stores: a folder, and S3 over HTTP (moto's standalone server)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from skinrisk.errors import SkinriskError
from skinrisk.storage.objects import ObjectStore, open_store
from skinrisk.versioning.remote import check_remote, remote_key, repair_remote
from tests.helpers.s3 import CREDENTIALS, moto_server

MEMBERS = {"a.jpg": b"first image", "b.jpg": b"second image"}


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(params=["folder", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "folder":
        return open_store(str(tmp_path / "dvc-remote"))
    import boto3

    monkeypatch = request.getfixturevalue("monkeypatch")
    for key, value in {**CREDENTIALS,
                       "AWS_ENDPOINT_URL": request.getfixturevalue("s3_endpoint")}.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3")
    bucket = f"dvc-{len(client.list_buckets()['Buckets'])}"
    client.create_bucket(Bucket=bucket)
    return open_store(f"s3://{bucket}/skinrisk/")


@pytest.fixture()
def workspace(tmp_path: Path) -> Path:
    """One tracked directory of two files, as `dvc add` leaves it: a .dvc file naming the
    directory's .dir manifest, and the manifest and both files in the cache."""
    root = tmp_path / "workspace"
    manifest = json.dumps([{"md5": md5(data), "relpath": name}
                           for name, data in MEMBERS.items()]).encode()
    objects = {f"{md5(manifest)}.dir": manifest} | {md5(d): d for d in MEMBERS.values()}
    for name, data in objects.items():
        cached = root / ".dvc" / "cache" / remote_key(name)
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(data)
    (root / "data").mkdir()
    (root / "data" / "raw.dvc").write_text(f"outs:\n- md5: {md5(manifest)}.dir\n  path: raw\n")
    (root / "dvc.yaml").write_text("stages: {}\n")
    return root


def push(workspace: Path, store: ObjectStore, skip: str = "") -> None:
    """What `dvc push` writes: every cached object the remote lacks by name (``skip``: one it
    never got to)."""
    cache, present = workspace / ".dvc" / "cache", set(store.list())
    for path in sorted(cache.rglob("*")):
        key = path.relative_to(cache).as_posix()
        if path.is_file() and key not in present and not key.endswith(skip or "\0"):
            store.put_if_absent(key, path.read_bytes())


def test_a_complete_remote_passes(workspace: Path, store: ObjectStore) -> None:
    push(workspace, store)
    check = check_remote(workspace, store)
    assert check.ok and check.objects == 3


def test_a_damaged_object_is_found_and_replaced_with_its_bytes_kept(
        workspace: Path, store: ObjectStore) -> None:
    victim = md5(MEMBERS["a.jpg"])
    store.put_if_absent(remote_key(victim), b"first im")  # truncated, under the whole's name
    push(workspace, store)
    check = check_remote(workspace, store)
    assert [str(b) for b in check.corrupt] == [f"{victim} data/raw/a.jpg"] and not check.missing
    done = repair_remote(workspace, store, check)
    assert (done.uploaded, done.replaced) == (0, 1)
    assert done.evidence == [f"corrupt/{remote_key(victim)}/"
                             f"{hashlib.sha256(b'first im').hexdigest()}"]
    assert store.get(done.evidence[0]) == b"first im"  # the evidence, not deleted
    assert store.get(remote_key(victim)) == MEMBERS["a.jpg"]
    assert check_remote(workspace, store).ok


def test_a_missing_member_of_a_pushed_directory_is_found_and_uploaded(
        workspace: Path, store: ObjectStore) -> None:
    # `dvc push` would not: the directory's .dir manifest is in the remote.
    victim = md5(MEMBERS["b.jpg"])
    push(workspace, store, skip=victim[2:])
    check = check_remote(workspace, store)
    assert [str(b) for b in check.missing] == [f"{victim} data/raw/b.jpg"] and not check.corrupt
    done = repair_remote(workspace, store, check)
    assert (done.uploaded, done.replaced, done.evidence) == (1, 0, [])
    assert check_remote(workspace, store).ok
    assert not store.list("corrupt/")


def test_a_damaged_manifest_counts_as_corrupt(workspace: Path, store: ObjectStore) -> None:
    manifest = next((workspace / ".dvc" / "cache").rglob("*.dir"))
    md5_dir = manifest.parent.name + manifest.name
    store.put_if_absent(remote_key(md5_dir), b"[]")
    push(workspace, store)
    check = check_remote(workspace, store)
    assert [b.md5 for b in check.corrupt] == [md5_dir]
    assert repair_remote(workspace, store, check).replaced == 1
    assert check_remote(workspace, store).ok


def test_a_repair_without_the_cached_copy_fails_naming_the_object(
        workspace: Path, store: ObjectStore) -> None:
    victim = md5(MEMBERS["a.jpg"])
    (workspace / ".dvc" / "cache" / remote_key(victim)).unlink()
    check = check_remote(workspace, store)
    assert len(check.missing) == 3
    with pytest.raises(SkinriskError, match=rf"data/raw/a\.jpg: DVC object {victim} is bad "
                                            "in .* not in the workspace cache"):
        repair_remote(workspace, store, check)

"""The object store's one contract, held by both implementations: a folder, and S3 over HTTP
(moto's standalone server, the way production reaches MinIO or AWS)."""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from skinrisk.errors import SkinriskError
from skinrisk.storage.objects import ObjectConflict, ObjectMissing, ObjectStore, open_store
from tests.helpers.s3 import CREDENTIALS, moto_server


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture()
def s3_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket; the environment set the way production sets it."""
    import boto3

    for key, value in {**CREDENTIALS, "AWS_ENDPOINT_URL": s3_endpoint}.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3")
    bucket = f"objects-{len(client.list_buckets()['Buckets'])}"
    client.create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture(params=["folder", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "folder":
        return open_store(str(tmp_path / "store"))
    bucket = request.getfixturevalue("s3_bucket")
    return open_store(f"s3://{bucket}/work/")


def test_a_key_is_written_once_and_an_identical_rewrite_is_a_no_op(store: ObjectStore) -> None:
    assert store.put_if_absent("ledger/00000001-a.jsonl", b"one\n") is True
    assert store.put_if_absent("ledger/00000001-a.jsonl", b"one\n") is False
    assert store.get("ledger/00000001-a.jsonl") == b"one\n"


def test_other_bytes_under_a_taken_key_are_refused_naming_the_key(store: ObjectStore) -> None:
    store.put_if_absent("reports/r.json", b"first")
    with pytest.raises(ObjectConflict, match=r"reports/r\.json already exists with other"):
        store.put_if_absent("reports/r.json", b"second")
    assert store.get("reports/r.json") == b"first"  # nothing replaced


def test_list_returns_the_keys_under_a_prefix_sorted(store: ObjectStore) -> None:
    for key in ("ledger/b.jsonl", "ledger/a.jsonl", "ledgers/x", "other/deep/y", "top"):
        store.put_if_absent(key, key.encode())
    assert store.list("ledger/") == ["ledger/a.jsonl", "ledger/b.jsonl"]
    assert store.list("ledger") == ["ledger/a.jsonl", "ledger/b.jsonl", "ledgers/x"]
    assert store.list("other/de") == ["other/deep/y"]
    assert store.list() == ["ledger/a.jsonl", "ledger/b.jsonl", "ledgers/x", "other/deep/y",
                            "top"]
    assert store.list("nothing/") == []


def test_an_empty_store_lists_nothing(store: ObjectStore) -> None:
    assert store.list() == []


def test_a_missing_key_is_an_error_naming_it(store: ObjectStore) -> None:
    store.put_if_absent("ledger/a.jsonl", b"x")
    for key in ("ledger/absent.jsonl", "ledger"):  # a folder of keys is no object either
        with pytest.raises(ObjectMissing, match=f"{key}: no such object"):
            store.get(key)


@pytest.mark.parametrize("key", ["../escape", "/abs", "a//b", "a/./b", ".hidden", "a\\b", ""])
def test_keys_that_could_leave_the_store_are_refused(store: ObjectStore, key: str) -> None:
    with pytest.raises(SkinriskError, match="object key"):
        store.put_if_absent(key, b"x")
    with pytest.raises(SkinriskError, match="object key"):
        store.get(key)
    with pytest.raises(SkinriskError, match="object key"):
        store.list(key + "/x")


def test_two_writers_of_one_key_one_wins_and_the_other_is_refused(tmp_path: Path) -> None:
    # The folder only: on S3 the atomicity is the server's (If-None-Match), and moto's
    # check-then-store is not a guarantee to test against.
    store = open_store(str(tmp_path / "store"))
    outcomes: list[str] = []

    def write(data: bytes) -> None:
        try:
            store.put_if_absent("k", data)
            outcomes.append("wrote")
        except ObjectConflict:
            outcomes.append("refused")

    threads = [threading.Thread(target=write, args=(bytes([n]) * 100_000,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * 7 + ["wrote"]
    assert len(set(store.get("k"))) == 1  # one writer's bytes, whole
    assert store.list() == ["k"]


def test_a_folder_write_leaves_no_temporaries(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "store"))
    store.put_if_absent("k", b"x")
    store.put_if_absent("k", b"x")
    assert [p.name for p in (tmp_path / "store").iterdir()] == ["k"]


def test_a_folder_object_is_read_only_and_links_are_not_objects(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "store"))
    store.put_if_absent("a/k", b"x")
    assert (tmp_path / "store" / "a" / "k").stat().st_mode & 0o222 == 0
    (tmp_path / "outside").write_bytes(b"secret")
    (tmp_path / "store" / "a" / "link").symlink_to(tmp_path / "outside")
    assert store.list() == ["a/k"]
    with pytest.raises(ObjectMissing):
        store.get("a/link")


def test_s3_objects_carry_their_sha256_and_stay_under_the_prefix(s3_bucket: str) -> None:
    import boto3

    store = open_store(f"s3://{s3_bucket}/work")
    store.put_if_absent("k", b"payload")
    client = boto3.client("s3")
    assert [o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket)["Contents"]] == ["work/k"]
    head = client.head_object(Bucket=s3_bucket, Key="work/k", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(b"payload").digest()).decode()
    client.put_object(Bucket=s3_bucket, Key="elsewhere", Body=b"not ours")
    assert store.list() == ["k"]


def test_an_unreachable_bucket_is_an_error_naming_the_store(s3_bucket: str) -> None:
    store = open_store("s3://no-such-bucket/p/")
    with pytest.raises(SkinriskError, match=r"s3://no-such-bucket/p/.*NoSuchBucket"):
        store.list()


def test_only_folders_and_s3_urls_open() -> None:
    with pytest.raises(SkinriskError, match="only s3:// URIs and local folders"):
        open_store("gs://bucket/prefix")


def test_a_folder_in_the_way_of_a_key_refuses_the_put(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "store"))
    (tmp_path / "store" / "k").mkdir(parents=True)
    with pytest.raises(ObjectConflict, match="k already exists"):
        store.put_if_absent("k", b"x")


GOOD = b"the bytes the key names" * 1000
GOOD_MD5 = hashlib.md5(GOOD).hexdigest()
CONTENT_KEY = f"files/md5/{GOOD_MD5[:2]}/{GOOD_MD5[2:]}"


def test_an_object_streams_in_chunks(store: ObjectStore) -> None:
    store.put_if_absent("big", GOOD)
    with store.open("big") as stream:
        assert stream.read(5) == GOOD[:5]
        assert stream.read() == GOOD[5:]
    with pytest.raises(ObjectMissing, match="absent: no such object"):
        store.open("absent")


def test_a_corrupt_object_is_kept_as_evidence_then_replaced(store: ObjectStore) -> None:
    damaged = GOOD[: len(GOOD) // 2]  # truncated, under the name of the whole
    store.put_if_absent(CONTENT_KEY, damaged)
    evidence = store.replace_corrupt(CONTENT_KEY, GOOD, GOOD_MD5)
    assert evidence == f"corrupt/{CONTENT_KEY}/{hashlib.sha256(damaged).hexdigest()}"
    assert store.get(CONTENT_KEY) == GOOD
    assert store.get(evidence) == damaged  # nothing lost
    assert store.list() == [evidence, CONTENT_KEY]
    # Sound now: a second repair writes nothing.
    assert store.replace_corrupt(CONTENT_KEY, GOOD, GOOD_MD5) is None
    assert store.list() == [evidence, CONTENT_KEY]


def test_a_sound_object_is_never_replaced(store: ObjectStore) -> None:
    store.put_if_absent(CONTENT_KEY, GOOD)
    assert store.replace_corrupt(CONTENT_KEY, GOOD, GOOD_MD5) is None
    assert store.list() == [CONTENT_KEY]


def test_a_replacement_that_is_damaged_too_is_refused(store: ObjectStore) -> None:
    store.put_if_absent(CONTENT_KEY, b"damaged")
    with pytest.raises(SkinriskError, match=r"does not hash to .* either; refusing"):
        store.replace_corrupt(CONTENT_KEY, b"also damaged", GOOD_MD5)
    assert store.get(CONTENT_KEY) == b"damaged" and store.list() == [CONTENT_KEY]


def test_replacing_a_missing_object_is_an_error(store: ObjectStore) -> None:
    with pytest.raises(ObjectMissing, match="no such object"):
        store.replace_corrupt(CONTENT_KEY, GOOD, GOOD_MD5)


def test_a_folder_repair_that_meets_another_repair_keeps_its_result(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from skinrisk.storage import objects

    store = open_store(str(tmp_path / "store"))
    store.put_if_absent(CONTENT_KEY, b"damaged")
    keep = objects.FolderStore._keep

    def keep_then_another_repair(self: objects.FolderStore, key: str, stream) -> None:
        keep(self, key, stream)
        target = tmp_path / "store" / CONTENT_KEY
        (tmp_path / "other").write_bytes(GOOD)
        (tmp_path / "other").replace(target)  # the other repair renamed its bytes in

    monkeypatch.setattr(objects.FolderStore, "_keep", keep_then_another_repair)
    assert store.replace_corrupt(CONTENT_KEY, GOOD, GOOD_MD5) is None  # found sound on a re-read
    assert store.get(CONTENT_KEY) == GOOD


def test_an_s3_repair_writes_only_over_the_object_it_found_damaged(s3_bucket: str) -> None:
    """If-Match on the damaged object's ETag: a sound write in between is not overwritten
    (moto honours If-Match on put_object; it ignores CopySourceIfMatch, which real S3 checks)."""
    import boto3

    store = open_store(f"s3://{s3_bucket}/dvc/")
    store.put_if_absent(CONTENT_KEY, b"damaged")
    client, puts = store.client, []  # type: ignore[attr-defined]
    real_put = client.put_object

    def put_after_another_repair(**kwargs):
        if kwargs.get("IfMatch") and not puts:
            puts.append("other")
            boto3.client("s3").put_object(Bucket=s3_bucket, Key=f"dvc/{CONTENT_KEY}", Body=GOOD)
        return real_put(**kwargs)

    client.put_object = put_after_another_repair
    assert store.replace_corrupt(CONTENT_KEY, GOOD, GOOD_MD5) is None  # 412, re-read: sound
    assert store.get(CONTENT_KEY) == GOOD
    evidence = f"corrupt/{CONTENT_KEY}/{hashlib.sha256(b'damaged').hexdigest()}"
    assert store.get(evidence) == b"damaged"

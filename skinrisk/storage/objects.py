"""One object store, a folder or an S3 prefix: list, get, put-if-absent, and never delete.

Keys are relative POSIX paths ('ledger/00000012-<hash>.jsonl'). A key is written once: a
second put of the same bytes is a no-op, a second put of other bytes is refused, so a retried
task (Airflow runs a task at least once) ends in the same state and nothing written is ever
replaced. There is no delete on purpose: what the pipeline stores is evidence.

S3 (AWS, MinIO, moto) takes its endpoint, region and credentials from the environment as boto3
reads them, through the landing zone's client (skinrisk.storage.s3.make_client).
"""

from __future__ import annotations

import base64
import errno
import hashlib
import os
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from skinrisk.errors import SkinriskError

# S3's answers to an IfNoneMatch="*" put whose key exists (412), or that races another
# conditional put of the same key (409).
_TAKEN = ("PreconditionFailed", "ConditionalRequestConflict")
_MISSING = ("NoSuchKey", "404", "NotFound")
_BUSY_ATTEMPTS, _BUSY_BACKOFF_S = 4, 0.2
Keys = list[str]  # named here: inside the classes below, `list` is their method


class ObjectMissing(SkinriskError):
    """get() of a key the store does not hold."""


class ObjectConflict(SkinriskError):
    """put_if_absent() of a key that already holds other bytes."""


class ObjectStore(Protocol):
    location: str  # folder path or s3://bucket/prefix/, for messages

    def list(self, prefix: str = "") -> Keys:
        """Every key that starts with ``prefix``, sorted."""

    def get(self, key: str) -> bytes:
        """The key's bytes; ObjectMissing when it does not exist."""

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """True when written now, False when the key already held these bytes."""


def open_store(url: str, client: Any | None = None) -> ObjectStore:
    """``s3://bucket/prefix`` or a folder path (created on the first write)."""
    if url.startswith("s3://"):
        return S3Store.from_uri(url, client)
    if "://" in url:
        raise SkinriskError(f"object store {url!r}: only s3:// URIs and local folders are "
                            "supported")
    return FolderStore(Path(url))


def check_key(key: str) -> str:
    """A key may not climb out of the store (''/'.'/'..' segments, a leading '/') nor name a
    hidden file: the folder store keeps its half-written temporaries under dot-names."""
    parts = key.split("/")
    if not key or "\\" in key or any(not p or p.startswith(".") for p in parts):
        # Its length only: a refused key may carry a name someone else chose (a hospital's).
        raise SkinriskError(f"object key of {len(key)} characters refused: use a relative "
                            "path without empty segments, backslashes or names starting "
                            "with '.'")
    return key


def _folder_of(prefix: str) -> str:
    """The folder part of a list() prefix ('ledger/000' -> 'ledger'), checked like a key."""
    start = prefix.rpartition("/")[0]
    return check_key(start) if "/" in prefix else ""


def _conflict(location: str, key: str) -> ObjectConflict:
    return ObjectConflict(f"{location}{key} already exists with other content; a stored object "
                          "is never replaced: find out why two writers disagree")


class FolderStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = str(root).rstrip("/") + "/"

    def list(self, prefix: str = "") -> Keys:
        # Walk only the folder the prefix points into, not the whole store.
        start = _folder_of(prefix)
        found: Keys = []
        self._walk(self.root / start if start else self.root, start, found)
        return sorted(k for k in found if k.startswith(prefix))

    def _walk(self, folder: Path, relative: str, found: Keys) -> None:
        if not folder.is_dir():
            return
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith("."):  # a write in progress, or not ours
                    continue
                key = f"{relative}/{entry.name}" if relative else entry.name
                # Links are not followed: a store holds its own files only.
                if entry.is_dir(follow_symlinks=False):
                    self._walk(Path(entry.path), key, found)
                elif entry.is_file(follow_symlinks=False):
                    found.append(key)

    def get(self, key: str) -> bytes:
        # As list() sees it: a folder or a link under the key is no object.
        try:
            fd = os.open(self.root / check_key(key), os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                raise ObjectMissing(f"{self.location}{key}: no such object") from None
            raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise ObjectMissing(f"{self.location}{key}: no such object")
        with os.fdopen(fd, "rb") as handle:
            return handle.read()

    def put_if_absent(self, key: str, data: bytes) -> bool:
        target = self.root / check_key(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # The bytes go to a temporary first and appear under their key by one link(): a reader
        # never sees a half-written object, and link() refuses an existing name, so a second
        # writer cannot replace the first (a rename would).
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                         suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, 0o444)  # write-once by convention; S3 Object Lock enforces it
            os.link(temporary, target)
        except FileExistsError:
            return self._same(key, data)
        finally:
            Path(temporary).unlink(missing_ok=True)
        _fsync_folder(target.parent)
        return True

    def _same(self, key: str, data: bytes) -> bool:
        try:
            same = self.get(key) == data
        except ObjectMissing:  # a folder or a link holds the name: taken, and not by this
            same = False
        if not same:
            raise _conflict(self.location, key)
        return False


def _fsync_folder(folder: Path) -> None:
    """The new name survives a power cut only once its folder's entry is on disk."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class S3Store:
    def __init__(self, bucket: str, prefix: str, client: Any) -> None:
        self.bucket, self.prefix, self.client = bucket, prefix, client
        self.location = f"s3://{bucket}/{prefix}"

    @classmethod
    def from_uri(cls, uri: str, client: Any | None = None) -> S3Store:
        from skinrisk.storage.s3 import make_client, split_uri

        bucket, prefix = split_uri(uri)
        return cls(bucket, prefix, client or make_client())

    def list(self, prefix: str = "") -> Keys:
        _folder_of(prefix)  # the same prefixes as the folder store, for one contract
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + prefix)
        return sorted(o["Key"][len(self.prefix):] for page in self._answer("", lambda: list(pages))
                      for o in page.get("Contents", []) if not o["Key"].endswith("/"))

    def get(self, key: str) -> bytes:
        # ChecksumMode makes botocore check the bytes against the SHA-256 stored at the put.
        response = self._answer(check_key(key), lambda: self.client.get_object(
            Bucket=self.bucket, Key=self.prefix + key, ChecksumMode="ENABLED"))
        return bytes(response["Body"].read())

    def put_if_absent(self, key: str, data: bytes) -> bool:
        checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
        for attempt in range(_BUSY_ATTEMPTS):
            answer = self._put(check_key(key), data, checksum)
            if answer == "":
                return True
            if answer == "PreconditionFailed":
                if self.get(key) != data:
                    raise _conflict(self.location, key)
                return False
            # 409: another conditional put of this key is in flight; S3 asks for a retry.
            time.sleep(_BUSY_BACKOFF_S * 2 ** attempt)
        raise SkinriskError(f"{self.location}{key}: S3 answered 'conditional request conflict' "
                            f"{_BUSY_ATTEMPTS} times; another writer holds the key, rerun later")

    def _put(self, key: str, data: bytes, checksum: str) -> str:
        """'' when written, else S3's code for a key that is taken or being taken."""
        from botocore.exceptions import ClientError

        # The checksum makes S3 refuse a body damaged in transit; IfNoneMatch makes S3 refuse
        # the put when the key exists, atomically, so a second writer never replaces the first.
        try:
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data,
                                   ChecksumAlgorithm="SHA256", ChecksumSHA256=checksum,
                                   IfNoneMatch="*")
        except ClientError as exc:
            if _code(exc) not in _TAKEN:
                raise self._failed(key, exc) from None
            return _code(exc)
        return ""

    def _answer(self, key: str, call: Callable[[], Any]) -> Any:
        from botocore.exceptions import ClientError

        try:
            return call()
        except ClientError as exc:
            if key and _code(exc) in _MISSING:
                raise ObjectMissing(f"{self.location}{key}: no such object") from None
            raise self._failed(key, exc) from None

    def _failed(self, key: str, exc: Any) -> SkinriskError:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return SkinriskError(f"{self.location}{key}: HTTP {status} {_code(exc)} after botocore's "
                             "retries; check the endpoint, the credentials and the bucket, then "
                             "rerun")


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))

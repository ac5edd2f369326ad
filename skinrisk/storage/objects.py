"""One object store, a folder or an S3 prefix: list, get, put-if-absent, and never delete.

Keys are relative POSIX paths ('ledger/00000012-<hash>.jsonl'). A key is written once: a
second put of the same bytes is a no-op, a second put of other bytes is refused, so a retried
task (Airflow runs a task at least once) ends in the same state and nothing written is ever
replaced. There is no delete on purpose: what the pipeline stores is evidence.

One exception, for content-addressed keys (DVC's `files/md5/ab/cdef...`): bytes that do not
hash to their own key's MD5 are damage, not a version, and replace_corrupt() puts the right
bytes there. Even then nothing is lost: the damaged bytes are first kept under
`corrupt/<key>/<their sha256>`, and the write is conditional on the object still being the
damaged one it read (S3: If-Match on its ETag), so a concurrent sound write is never replaced.

S3 (AWS, MinIO, moto) takes its endpoint, region and credentials from the environment as boto3
reads them, through the landing zone's client (skinrisk.storage.s3.make_client).
"""

from __future__ import annotations

import base64
import errno
import hashlib
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from skinrisk.errors import SkinriskError

# S3's answers to an IfNoneMatch="*" put whose key exists (412), or that races another
# conditional put of the same key (409).
_TAKEN = ("PreconditionFailed", "ConditionalRequestConflict")
_MISSING = ("NoSuchKey", "404", "NotFound")
_BUSY_ATTEMPTS, _BUSY_BACKOFF_S = 4, 0.2
EVIDENCE = "corrupt/"  # where replace_corrupt() keeps the damaged bytes it replaces
CHUNK = 1 << 20
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

    def open(self, key: str) -> BinaryIO:
        """The key's bytes as a stream, to read in chunks and close (a shard may be a
        gigabyte); ObjectMissing when it does not exist."""

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """True when written now, False when the key already held these bytes."""

    def replace_corrupt(self, key: str, data: bytes, expected_md5: str) -> str | None:
        """Put ``data`` (which must hash to ``expected_md5``) over the key only while the key's
        bytes do not: the damaged bytes are kept under evidence_key() first. Returns that
        evidence key, or None when the object was sound and nothing was written."""


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


def evidence_key(key: str, sha256: str) -> str:
    return f"{EVIDENCE}{key}/{sha256}"


def hash_stream(stream: BinaryIO) -> tuple[str, str]:
    """(MD5, SHA-256) of a stream read to its end, a chunk at a time; the stream is left
    open."""
    md5, sha256 = hashlib.md5(), hashlib.sha256()
    for chunk in iter(lambda: stream.read(CHUNK), b""):
        md5.update(chunk)
        sha256.update(chunk)
    return md5.hexdigest(), sha256.hexdigest()


def _check_replacement(location: str, key: str, data: bytes, expected_md5: str) -> None:
    if hashlib.md5(data).hexdigest() != expected_md5:
        raise SkinriskError(f"{location}{key}: the replacement offered does not hash to "
                            f"{expected_md5} either; refusing to write it: check the local copy "
                            "(e.g. the DVC cache) it was read from")


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

    def open(self, key: str) -> BinaryIO:
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
        return os.fdopen(fd, "rb")

    def get(self, key: str) -> bytes:
        with self.open(key) as handle:
            return handle.read()

    def put_if_absent(self, key: str, data: bytes) -> bool:
        target = self.root / check_key(key)
        # The bytes go to a temporary first and appear under their key by one link(): a reader
        # never sees a half-written object, and link() refuses an existing name, so a second
        # writer cannot replace the first (a rename would).
        with self._staged(target, lambda handle: handle.write(data)) as temporary:
            try:
                os.link(temporary, target)
            except FileExistsError:
                return self._same(key, data)
        _fsync_folder(target.parent)
        return True

    def replace_corrupt(self, key: str, data: bytes, expected_md5: str) -> str | None:
        _check_replacement(self.location, key, data, expected_md5)
        target = self.root / check_key(key)
        for _ in range(_BUSY_ATTEMPTS):
            with self.open(key) as current:
                md5, sha256 = hash_stream(current)
                if md5 == expected_md5:
                    return None
                evidence = evidence_key(key, sha256)
                current.seek(0)
                self._keep(evidence, current)
                with self._staged(target, lambda handle: handle.write(data)) as temporary:
                    # A folder has no compare-and-swap: look again just before the rename, so
                    # only a writer within this instant can be overtaken.
                    if not _same_file(target, current.fileno()):
                        continue
                    os.replace(temporary, target)
            _fsync_folder(target.parent)
            return evidence
        raise SkinriskError(f"{self.location}{key} kept changing while being repaired; find the "
                            "other writer, then rerun")

    def _keep(self, key: str, stream: BinaryIO) -> None:
        """The damaged bytes, streamed from the open object, under their evidence key."""
        target = self.root / check_key(key)
        with self._staged(target, lambda handle: shutil.copyfileobj(stream, handle, CHUNK)) \
                as temporary:
            try:
                os.link(temporary, target)
            except FileExistsError:
                return  # kept by an earlier repair: the name is the bytes' SHA-256
        _fsync_folder(target.parent)

    @contextmanager
    def _staged(self, target: Path, fill: Callable[[BinaryIO], object]) -> Iterator[Path]:
        """A read-only, fsynced temporary beside ``target``, removed unless moved into place."""
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                         suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                fill(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, 0o444)  # write-once by convention; S3 Object Lock enforces it
            yield Path(temporary)
        finally:
            Path(temporary).unlink(missing_ok=True)

    def _same(self, key: str, data: bytes) -> bool:
        try:
            same = self.get(key) == data
        except ObjectMissing:  # a folder or a link holds the name: taken, and not by this
            same = False
        if not same:
            raise _conflict(self.location, key)
        return False


def _same_file(path: Path, fd: int) -> bool:
    try:
        now = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    then = os.fstat(fd)
    return (now.st_dev, now.st_ino) == (then.st_dev, then.st_ino)


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
        with self.open(key) as body:
            return bytes(body.read())

    def open(self, key: str) -> BinaryIO:
        return self._get_object(key)["Body"]  # botocore streams it as it is read

    def _get_object(self, key: str) -> dict[str, Any]:
        # ChecksumMode makes botocore check the bytes against the checksum stored at the put.
        return self._answer(check_key(key), lambda: self.client.get_object(
            Bucket=self.bucket, Key=self.prefix + key, ChecksumMode="ENABLED"))

    def replace_corrupt(self, key: str, data: bytes, expected_md5: str) -> str | None:
        _check_replacement(self.location, key, data, expected_md5)
        for attempt in range(_BUSY_ATTEMPTS):
            response = self._get_object(key)
            with response["Body"] as body:
                md5, sha256 = hash_stream(body)
            if md5 == expected_md5:
                return None
            # Both writes are conditional on the ETag read with those bytes: if the object
            # changed since, nothing is copied or written and it is read again.
            evidence = evidence_key(key, sha256)
            if self._keep(key, evidence, response["ETag"]) and \
                    self._put(key, data, _sha256_b64(data), if_match=response["ETag"]) == "":
                return evidence
            time.sleep(_BUSY_BACKOFF_S * 2 ** attempt)
        raise SkinriskError(f"{self.location}{key} kept changing while being repaired; find the "
                            "other writer, then rerun")

    def _keep(self, key: str, evidence: str, etag: str) -> bool:
        """Copy the damaged object to its evidence key inside S3 (no bytes through this
        process); False when it changed since it was read."""
        from botocore.exceptions import ClientError

        try:
            self._answer(evidence, lambda: self.client.head_object(
                Bucket=self.bucket, Key=self.prefix + evidence))
            return True  # kept by an earlier repair: the name is the bytes' SHA-256
        except ObjectMissing:
            pass
        try:
            self.client.copy_object(
                Bucket=self.bucket, Key=self.prefix + evidence, CopySourceIfMatch=etag,
                CopySource={"Bucket": self.bucket, "Key": self.prefix + key},
                ChecksumAlgorithm="SHA256")
        except ClientError as exc:
            if _code(exc) in (*_TAKEN, *_MISSING):
                return False
            raise self._failed(evidence, exc) from None
        return True

    def put_if_absent(self, key: str, data: bytes) -> bool:
        checksum = _sha256_b64(data)
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

    def _put(self, key: str, data: bytes, checksum: str, if_match: str | None = None) -> str:
        """'' when written, else S3's code for a key that is taken, being taken or (with
        ``if_match``) no longer the object read."""
        from botocore.exceptions import ClientError

        # The checksum makes S3 refuse a body damaged in transit; IfNoneMatch makes S3 refuse
        # the put when the key exists, atomically, so a second writer never replaces the first;
        # IfMatch lets a repair replace only the very object it found damaged.
        condition = {"IfMatch": if_match} if if_match else {"IfNoneMatch": "*"}
        try:
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data,
                                   ChecksumAlgorithm="SHA256", ChecksumSHA256=checksum,
                                   **condition)
        except ClientError as exc:
            if _code(exc) not in (*_TAKEN, *(_MISSING if if_match else ())):
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


def _sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))

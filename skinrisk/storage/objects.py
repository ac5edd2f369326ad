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

The S3 implementation (AWS, MinIO, moto) is skinrisk.storage.s3objects: it takes its endpoint,
region and credentials from the environment as boto3 reads them, through the landing zone's
client (skinrisk.storage.s3.make_client).
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from skinrisk.errors import SkinriskError

BUSY_ATTEMPTS, BUSY_BACKOFF_S = 4, 0.2
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
        from skinrisk.storage.s3objects import S3Store  # botocore only where S3 is used

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


def check_replacement(location: str, key: str, data: bytes, expected_md5: str) -> None:
    if hashlib.md5(data).hexdigest() != expected_md5:
        raise SkinriskError(f"{location}{key}: the replacement offered does not hash to "
                            f"{expected_md5} either; refusing to write it: check the local copy "
                            "(e.g. the DVC cache) it was read from")


def prefix_folder(prefix: str) -> str:
    """The folder part of a list() prefix ('ledger/000' -> 'ledger'), checked like a key."""
    start = prefix.rpartition("/")[0]
    return check_key(start) if "/" in prefix else ""


def conflict_error(location: str, key: str) -> ObjectConflict:
    return ObjectConflict(f"{location}{key} already exists with other content; a stored object "
                          "is never replaced: find out why two writers disagree")


class FolderStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = str(root).rstrip("/") + "/"

    def list(self, prefix: str = "") -> Keys:
        # Walk only the folder the prefix points into, not the whole store.
        start = prefix_folder(prefix)
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
        check_replacement(self.location, key, data, expected_md5)
        target = self.root / check_key(key)
        for _ in range(BUSY_ATTEMPTS):
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
            raise conflict_error(self.location, key)
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

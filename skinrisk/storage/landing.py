"""Landing zones: where hospitals drop batches. A local folder (the embedded default) or S3.

Both offer the same small interface, so ingest does not know which one it reads. Reading is
streamed per file: a batch is never held in memory, one image at a time is.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from skinrisk.batch import READY_MARKER
from skinrisk.errors import SkinriskError
from skinrisk.storage.nofollow import (
    FILE,
    entry_of,
    is_real_folder,
    open_regular,
    read_regular,
    walk_entries,
)

CHUNK = 1 << 20


@dataclass(frozen=True)
class FileInfo:
    size: int
    checksum_sha256: str | None = None  # hex, where the store keeps one (S3 flexible checksums)
    kind: str = FILE  # nofollow.FILE, SYMLINK, SPECIAL, HARD_LINK, or UNSAFE_NAME: never read
    signature: str = ""  # changes whenever the content may have (local: stat; S3: ETag, time)
    what: str = "file"  # the kind for a person: "symbolic link", "FIFO", ...


UNSAFE_NAME = "unsafe_name"  # an S3 key with '.', '..' or empty segments: never fetched


class NotABatchFolder(SkinriskError):
    """A landing entry where a batch folder should be that is none (a link, even to a
    folder): refused for what it is, never followed. ``entry`` is its own state, so that the
    refusal is recorded once and a changed entry is tried again."""

    def __init__(self, message: str, entry: FileInfo) -> None:
        super().__init__(message)
        self.entry = entry


@dataclass(frozen=True)
class Received:
    data: bytes
    sha256: str  # of exactly the bytes received


class BatchReader(Protocol):
    batch_id: str

    def files(self) -> dict[str, FileInfo]: ...

    def read(self, name: str) -> Received: ...

    def copy_to(self, name: str, target: Path) -> str: ...  # returns sha256 of what was copied

    def digest(self, name: str) -> str: ...  # sha256 of a regular file's bytes, streamed

    def ready_at(self) -> float: ...  # when the ready marker was written (epoch seconds)


class Landing(Protocol):
    uri: str

    def batch_ids(self) -> list[tuple[str, bool]]: ...  # (batch id, has ready marker)

    def open_batch(self, batch_id: str) -> BatchReader: ...


class LocalLanding:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.uri = str(root)

    def batch_ids(self) -> list[tuple[str, bool]]:
        """Every entry of the landing folder but hidden ones; a link to a folder is listed
        too (and refused when opened), never walked."""
        if not is_real_folder(self.root):
            raise SkinriskError(f"landing zone {self.root} does not exist or is not a folder; "
                                "check --landing / SKINRISK_LANDING")
        with os.scandir(self.root) as entries:
            # A link is listed as ready, so that ingest refuses it (once, recorded) instead
            # of looking inside it for a marker.
            listed = [(e.name, e.is_symlink()) for e in entries if not e.name.startswith(".")
                      and (e.is_dir(follow_symlinks=False) or e.is_symlink())]
        return sorted((n, link or os.path.lexists(self.root / n / READY_MARKER))
                      for n, link in listed)

    def open_batch(self, batch_id: str) -> LocalBatch:
        folder = self.root / batch_id
        try:
            st = os.lstat(folder)
        except FileNotFoundError:  # removed since the listing: nothing to refuse
            raise SkinriskError(f"batch {batch_id}: its landing entry was removed during the "
                                "run; rerun once the landing zone is stable") from None
        if not stat.S_ISDIR(st.st_mode):
            entry = entry_of(st)  # where a link points is the sender's text: never shown
            raise NotABatchFolder(
                f"batch {batch_id}: its landing entry is a {entry.what}, not a folder; it was "
                "not followed (a batch reads only its own regular files). Refused: put the "
                "batch folder itself in the landing zone in its place",
                FileInfo(entry.size, kind=entry.kind, signature=entry.signature,
                         what=entry.what))
        return LocalBatch(folder)


class LocalBatch:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.batch_id = folder.name

    def files(self) -> dict[str, FileInfo]:
        return {name: FileInfo(e.size, kind=e.kind, signature=e.signature, what=e.what)
                for name, e in walk_entries(self.folder).items()}

    def read(self, name: str) -> Received:
        data = read_regular(self.folder, name)
        return Received(data, hashlib.sha256(data).hexdigest())

    def copy_to(self, name: str, target: Path) -> str:
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        tmp = target.with_name(f".{target.name}.tmp")
        out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(open_regular(self.folder, name), "rb") as src, \
                os.fdopen(out, "wb") as dst:
            for chunk in iter(lambda: src.read(CHUNK), b""):
                digest.update(chunk)
                dst.write(chunk)
        tmp.replace(target)
        return digest.hexdigest()

    def digest(self, name: str) -> str:
        digest = hashlib.sha256()
        with os.fdopen(open_regular(self.folder, name), "rb") as src:
            for chunk in iter(lambda: src.read(CHUNK), b""):
                digest.update(chunk)
        return digest.hexdigest()

    def ready_at(self) -> float:
        return os.lstat(self.folder / READY_MARKER).st_mtime


def open_landing(uri: str) -> Landing:
    """``s3://bucket/prefix`` or a local folder path."""
    if uri.startswith("s3://"):
        from skinrisk.storage.s3 import S3Landing  # boto3 only where S3 is used

        return S3Landing.from_uri(uri)
    if "://" in uri:
        raise SkinriskError(f"landing zone {uri!r}: only s3:// URIs and local folders are "
                            "supported")
    return LocalLanding(Path(uri))

"""Landing zones: where hospitals drop batches. A local folder (the embedded default) or S3.

Both offer the same small interface, so ingest does not know which one it reads. Reading is
streamed per file: a batch is never held in memory, one image at a time is.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from skinrisk.batch import READY_MARKER
from skinrisk.errors import SkinriskError
from skinrisk.localfs import file_sizes

CHUNK = 1 << 20


@dataclass(frozen=True)
class FileInfo:
    size: int
    checksum_sha256: str | None = None  # hex, where the store keeps one (S3 flexible checksums)


@dataclass(frozen=True)
class Received:
    data: bytes
    sha256: str  # of exactly the bytes received


class BatchReader(Protocol):
    batch_id: str

    def files(self) -> dict[str, FileInfo]: ...

    def read(self, name: str) -> Received: ...

    def copy_to(self, name: str, target: Path) -> str: ...  # returns sha256 of what was copied


class Landing(Protocol):
    uri: str

    def batch_ids(self) -> list[tuple[str, bool]]: ...  # (batch id, has ready marker)

    def open_batch(self, batch_id: str) -> BatchReader: ...


class LocalLanding:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.uri = str(root)

    def batch_ids(self) -> list[tuple[str, bool]]:
        if not self.root.is_dir():
            return []
        return sorted((p.name, (p / READY_MARKER).is_file()) for p in self.root.iterdir()
                      if p.is_dir() and not p.name.startswith("."))

    def open_batch(self, batch_id: str) -> LocalBatch:
        return LocalBatch(self.root / batch_id)


class LocalBatch:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.batch_id = folder.name

    def files(self) -> dict[str, FileInfo]:
        return {name: FileInfo(size) for name, size in sorted(file_sizes(self.folder).items())}

    def read(self, name: str) -> Received:
        data = (self.folder / name).read_bytes()
        return Received(data, hashlib.sha256(data).hexdigest())

    def copy_to(self, name: str, target: Path) -> str:
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        tmp = target.with_name(f".{target.name}.tmp")
        with (self.folder / name).open("rb") as src, tmp.open("wb") as dst:
            for chunk in iter(lambda: src.read(CHUNK), b""):
                digest.update(chunk)
                dst.write(chunk)
        tmp.replace(target)
        return digest.hexdigest()


def open_landing(uri: str) -> Landing:
    """``s3://bucket/prefix`` or a local folder path."""
    if uri.startswith("s3://"):
        from skinrisk.storage.s3 import S3Landing  # boto3 only where S3 is used

        return S3Landing.from_uri(uri)
    if "://" in uri:
        raise SkinriskError(f"landing zone {uri!r}: only s3:// URIs and local folders are "
                            "supported")
    return LocalLanding(Path(uri))

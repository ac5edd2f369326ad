"""Local-folder writes that a kill cannot leave half-done."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from skinrisk.errors import SkinriskError

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class DiskFullError(SkinriskError):
    """A write that found no space: nothing half-written is left under the name."""

    def __init__(self, path: Path | str | None) -> None:
        where = f" writing {path}" if path else ""
        super().__init__(f"no space left on the device{where}. Nothing was left half-written "
                         "(outputs are written to a temporary file, then renamed). Free space "
                         "there, then rerun: the stage goes on from what it had finished")


def json_bytes(value: Any, sort_keys: bool = False) -> bytes:
    """The house form of a JSON record on disk: two-space indent, a final newline."""
    return (json.dumps(value, indent=2, sort_keys=sort_keys) + "\n").encode()


def write_json(path: Path, value: Any, sort_keys: bool = False) -> None:
    """``value`` as JSON (json_bytes), atomically (atomic_write)."""
    atomic_write(path, json_bytes(value, sort_keys))


def atomic_write(path: Path, data: bytes, durable: bool = True) -> None:
    """Write to a temporary file beside ``path``, fsync, then rename over it.

    A reader sees the old file or the whole new one, never a prefix; a killed writer leaves at
    most a hidden temporary file, which the next write of the same path does not trip over.
    ``durable=False`` skips the fsync for bulk writes that a caller makes durable together
    (os.sync) before publishing anything that refers to them.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if exc.errno in DISK_FULL:
            raise DiskFullError(path) from None
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def list_files(folder: Path) -> list[str]:
    """Every regular file below ``folder`` as a POSIX path relative to it.

    Only atomic_write's own temporaries are left out; any other stray file is listed, so that a
    check can report it rather than overlook it.
    """
    return sorted(file_sizes(folder))


def file_sizes(folder: Path) -> dict[str, int]:
    """list_files with each file's size, in one walk (os.scandir: a landing batch of 10,000
    photos is listed on every ingest run, so no per-file Path objects)."""
    sizes: dict[str, int] = {}
    pending = [("", str(folder))]
    while pending:
        prefix, path = pending.pop()
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):  # as rglob: links to folders not walked
                    pending.append((f"{prefix}{entry.name}/", entry.path))
                elif entry.is_file() and not _is_temporary(entry.name):
                    sizes[prefix + entry.name] = entry.stat().st_size
    return sizes


def _is_temporary(name: str) -> bool:
    return name.startswith(".") and name.endswith(".tmp")


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on ``path`` (created if needed); others wait for it.

    The kernel drops the lock when the process dies, so a killed holder never blocks a rerun.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def file_digest(path: Path) -> str | None:
    """sha256 of a file's bytes; None when it is not there."""
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None

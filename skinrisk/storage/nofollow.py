"""Reading a local batch folder without ever following a link out of it.

A landing folder is written by someone else. A symbolic link in it can point at /etc/passwd or at
another patient's photo; a FIFO blocks a reader forever; a hard link can make a file outside the
batch look like the hospital's own. So entries are classified with lstat (never stat), and files
are opened component by component with O_NOFOLLOW relative to the batch folder's descriptor:
an entry swapped for a link between the listing and the read is refused, not followed.
"""

from __future__ import annotations

import os
import stat
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from skinrisk.errors import SkinriskError

# Entry kinds: only "file" is ever read.
FILE, SYMLINK, SPECIAL, HARD_LINK = "file", "symlink", "special", "hard_link"


@dataclass(frozen=True)
class Entry:
    kind: str
    size: int
    signature: str  # changes whenever the entry's content may have: size, mtime, ctime, inode
    what: str  # for a person: "symbolic link", "FIFO", ...


class NotRegularFile(SkinriskError):
    """An entry that is not (any more) a regular file of the batch."""


def walk_entries(folder: Path) -> dict[str, Entry]:
    """Every entry below ``folder`` (POSIX relative name -> Entry); folders are walked, links
    to folders are entries of their own, nothing is followed."""
    found: dict[str, tuple[Entry, tuple[int, int, int]]] = {}
    pending = [("", str(folder))]
    while pending:
        prefix, path = pending.pop()
        with os.scandir(path) as entries:
            for entry in entries:
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    pending.append((f"{prefix}{entry.name}/", entry.path))
                else:
                    found[prefix + entry.name] = (entry_of(st), (st.st_dev, st.st_ino,
                                                                 st.st_nlink))
    # A regular file with more links than the batch holds names for is linked from outside.
    inside = Counter((dev, ino) for _, (dev, ino, _) in found.values())
    return {name: (Entry(HARD_LINK, e.size, e.signature, "hard link to a file outside the "
                         "batch") if e.kind == FILE and nlink > inside[(dev, ino)] else e)
            for name, (e, (dev, ino, nlink)) in sorted(found.items())}


def entry_of(st: os.stat_result) -> Entry:
    """What an entry is, from its lstat (not for folders: those are walked)."""
    signature = f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return Entry(FILE, st.st_size, signature, "file")
    if stat.S_ISLNK(mode):
        return Entry(SYMLINK, 0, signature, "symbolic link")
    what = ("FIFO" if stat.S_ISFIFO(mode) else "socket" if stat.S_ISSOCK(mode)
            else "device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "special file")
    return Entry(SPECIAL, 0, signature, what)


def open_regular(folder: Path, name: str) -> int:
    """A read-only descriptor of the regular file ``name`` below ``folder``, no link followed
    at any level; NotRegularFile otherwise. The caller closes it."""
    parts = name.split("/")
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        for part in parts[:-1]:
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = inner
        # O_NONBLOCK: opening a FIFO swapped in after the listing must not block the ingest.
        target = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
    except OSError as exc:
        raise NotRegularFile(f"{folder.name}: an entry changed or is a link (errno "
                             f"{exc.errno}); it was not read. Rerun once the batch is "
                             "stable") from None
    finally:
        os.close(fd)
    st = os.fstat(target)
    if not stat.S_ISREG(st.st_mode):
        os.close(target)
        raise NotRegularFile(f"{folder.name}: an entry is no longer a regular file; it was "
                             "not read. Rerun once the batch is stable")
    return target


def read_regular(folder: Path, name: str) -> bytes:
    fd = open_regular(folder, name)
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def is_real_folder(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False

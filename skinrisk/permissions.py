"""Private zones: the folders that hold patient-linked data, readable by their owner only.

The private store (source patient ids -> surrogates, received file names) and the quarantine
(refused files kept as received) are private zones: every folder in them 0700, every file 0600,
whatever the process umask. They are created that way here. A zone found open to group or
others (made by an earlier version, or loosened by hand) is refused, never quietly tightened:
its contents may already have been read, and a person should know before the pipeline goes on.
"""

from __future__ import annotations

import os
import shlex
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
OPEN_TO_OTHERS = stat.S_IRWXG | stat.S_IRWXO


def is_exposed(mode: int) -> bool:
    """Whether a file or folder of this st_mode grants anything to group or others."""
    return bool(mode & OPEN_TO_OTHERS)


def make_private_dir(path: Path) -> None:
    """Create ``path`` as a 0700 folder (its parents as the umask makes them).

    An existing folder is left as it is, for require_private to judge.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # The umask only removes bits, so the folder is never more open than 0700, even
        # between these two calls; the chmod restores owner bits an odd umask took away.
        path.mkdir(mode=PRIVATE_DIR)
    except FileExistsError:
        return
    os.chmod(path, PRIVATE_DIR)


def make_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (then require_private judges it)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, PRIVATE_FILE)  # as in make_private_dir: owner bits whatever the umask
    finally:
        os.close(fd)


def tighten_files(folder: Path) -> None:
    """Make every file directly in ``folder`` 0600: for files this process has just written
    there through code that creates files under the umask (a landing's streamed copy)."""
    if not folder.is_dir():
        return
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_file(follow_symlinks=False) and is_exposed(entry.stat().st_mode):
                os.chmod(entry.path, PRIVATE_FILE)


def require_private(zone: Path, only: Iterable[Path] | None = None) -> None:
    """Refuse, naming the first exposed path and the fix, when ``zone`` or anything below it
    grants access to group or others.

    ``only``: check ``zone`` itself and just these paths (a store that shares its folder).
    A zone that does not exist yet is fine: it will be created private.
    """
    exposed = first_exposed(zone, only)
    if exposed is not None:
        raise _refusal(*exposed, [zone])


def require_private_zones(layout: StateLayout) -> None:
    """The preflight of a command that reads or writes the private store or the quarantine:
    one refusal whose fix covers every exposed zone (an old state folder has both)."""
    found = [(zone, first_exposed(zone)) for zone in layout.private_zones]
    exposed = [(zone, hit) for zone, hit in found if hit is not None]
    if exposed:
        raise _refusal(*exposed[0][1], [zone for zone, _ in exposed])


def first_exposed(zone: Path, only: Iterable[Path] | None = None) -> tuple[Path, int] | None:
    """The first path (and its st_mode) in ``zone`` open to group or others, else None."""
    if not zone.exists():
        return None
    for path in [zone, *only] if only is not None else _walk(zone):
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            continue  # an optional file (SQLite's -wal) that is not there
        if is_exposed(mode) and not stat.S_ISLNK(mode):  # a link's own mode means nothing
            return path, mode
    return None


def _refusal(path: Path, mode: int, zones: list[Path]) -> SkinriskError:
    want = PRIVATE_DIR if stat.S_ISDIR(mode) else PRIVATE_FILE
    fix = " ".join(shlex.quote(str(zone)) for zone in zones)
    return SkinriskError(f"{path} is open to other users (mode {stat.S_IMODE(mode):o}, want "
                         f"{want:o}) but holds patient-linked data; fix: chmod -R go-rwx {fix} "
                         "(and check who may have read it), then rerun")


def _walk(zone: Path) -> Iterator[Path]:
    """``zone`` and every folder and file below it, folders before their contents."""
    yield zone
    pending = [zone]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                yield Path(entry.path)
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))

"""What happens to every row and file of a batch, decided before any image is read.

From the manifest reading and the file listing alone: rows that cannot be accepted, rows whose
file is missing or over the size cap, and files the manifest does not list are refused here;
the rest become tasks for the image checks. Every present file is claimed exactly once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from skinrisk.batch import ManifestReading, ManifestRow, RejectedRow
from skinrisk.reasons import Reason
from skinrisk.storage.landing import FileInfo
from skinrisk.storage.nofollow import FILE, HARD_LINK


@dataclass(frozen=True)
class FileTask:
    row: ManifestRow
    size: int


@dataclass(frozen=True)
class Refusal:
    line: int | None
    file_name: str | None  # the present entry to keep in quarantine; None if there is none
    reason: Reason
    detail: str  # safe to log: no file names, no ids, no values
    row: ManifestRow | None = None  # the parsed row, when there was one (for the surrogate)
    readable: bool = True  # False: a link or special entry, recorded but never read


@dataclass(frozen=True)
class BatchPlan:
    tasks: tuple[FileTask, ...]
    refusals: tuple[Refusal, ...]
    files_in: int
    rows_in: int


def plan_batch(reading: ManifestReading, present: Mapping[str, FileInfo], max_bytes: int
               ) -> BatchPlan:
    """``present``: every entry of the batch but the manifest and ready marker. An entry that
    is not a regular file of the batch is refused for that, whatever its row says."""
    claimed: set[str] = set()
    refusals: list[Refusal] = []
    for rejected in reading.rejected:
        keep = rejected.file_name if rejected.file_name in present else None
        if keep in claimed:
            keep = None  # a duplicate row: the first of its rows keeps the file
        if keep:
            claimed.add(keep)
        refusals.append(_entry_refusal(rejected.line, keep, present, None)
                        or Refusal(rejected.line, keep, rejected.reason, _detail(rejected)))
    tasks: list[FileTask] = []
    for row in reading.rows:
        if row.file_name not in present:
            refusals.append(Refusal(row.line, None, Reason.MISSING_FILE,
                                    "listed in the manifest, not in the batch", row))
            continue
        claimed.add(row.file_name)
        size = present[row.file_name].size
        refusal = _entry_refusal(row.line, row.file_name, present, row)
        if refusal is None and size > max_bytes:
            refusal = Refusal(row.line, row.file_name, Reason.TOO_LARGE,
                              f"{size:,} bytes, cap {max_bytes:,}", row)
        if refusal is None:
            tasks.append(FileTask(row, size))
        else:
            refusals.append(refusal)
    refusals += [_entry_refusal(None, name, present, None)
                 or Refusal(None, name, Reason.NOT_IN_MANIFEST, "in the batch, not in the manifest")
                 for name in sorted(set(present) - claimed)]
    return BatchPlan(tuple(tasks), tuple(refusals), len(present),
                     len(reading.rows) + len(reading.rejected))


def _entry_refusal(line: int | None, name: str | None, present: Mapping[str, FileInfo],
                   row: ManifestRow | None) -> Refusal | None:
    """Links, special files and unsafe keys: recorded, never read (not a byte of a target)."""
    info = present.get(name) if name else None
    if info is None or info.kind == FILE:
        return None
    reason = Reason.HARD_LINK if info.kind == HARD_LINK else Reason.NOT_REGULAR_FILE
    return Refusal(line, name, reason, f"{info.what}: not followed, nothing read", row,
                   readable=False)


def _detail(rejected: RejectedRow) -> str:
    """The problems' messages: they name the column and the rule, never the value."""
    return "; ".join(f"{p.column or 'row'}: {p.message}" for p in rejected.problems)

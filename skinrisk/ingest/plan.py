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


@dataclass(frozen=True)
class FileTask:
    row: ManifestRow
    size: int


@dataclass(frozen=True)
class Refusal:
    line: int | None
    file_name: str | None  # the present file to keep in quarantine; None if there is none
    reason: Reason
    detail: str  # safe to log: no file names, no ids
    row: ManifestRow | None = None  # the parsed row, when there was one (for the surrogate)


@dataclass(frozen=True)
class BatchPlan:
    tasks: tuple[FileTask, ...]
    refusals: tuple[Refusal, ...]
    files_in: int
    rows_in: int


def plan_batch(reading: ManifestReading, present: Mapping[str, int], max_bytes: int
               ) -> BatchPlan:
    """``present``: file name -> size in bytes, the manifest and ready marker excluded."""
    claimed: set[str] = set()
    refusals: list[Refusal] = []
    for rejected in reading.rejected:
        keep = rejected.file_name if rejected.file_name in present else None
        if keep in claimed:
            keep = None  # a duplicate row: the first of its rows keeps the file
        if keep:
            claimed.add(keep)
        refusals.append(Refusal(rejected.line, keep, rejected.reason, _detail(rejected)))
    tasks: list[FileTask] = []
    for row in reading.rows:
        if row.file_name not in present:
            refusals.append(Refusal(row.line, None, Reason.MISSING_FILE,
                                    "listed in the manifest, not in the batch", row))
            continue
        claimed.add(row.file_name)
        size = present[row.file_name]
        if size > max_bytes:
            refusals.append(Refusal(row.line, row.file_name, Reason.TOO_LARGE,
                                    f"{size:,} bytes, cap {max_bytes:,}", row))
        else:
            tasks.append(FileTask(row, size))
    refusals += [Refusal(None, name, Reason.NOT_IN_MANIFEST, "in the batch, not in the manifest")
                 for name in sorted(set(present) - claimed)]
    return BatchPlan(tuple(tasks), tuple(refusals), len(present),
                     len(reading.rows) + len(reading.rejected))


def _detail(rejected: RejectedRow) -> str:
    parts = []
    for problem in rejected.problems:
        if problem.column == "file_name":
            # The message quotes the name, and names can hold identifiers (PAT_123_...).
            parts.append("file_name: not usable, or listed more than once (see `skinrisk "
                         "batch check` on the landing zone)")
        else:
            parts.append(f"{problem.column or 'row'}: {problem.message}")
    return "; ".join(parts)

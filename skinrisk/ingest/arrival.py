"""Is a landed batch complete, and is a committed batch still what was committed?

Two questions ingest asks before it reads an image, both pure over what the landing listing,
the marker and the private store's file record say:

- completeness: ``_READY`` means the upload is over. Its types are checked, the manifest must be
  there and be the one it names, its ``image_count`` must equal the manifest's rows, and every
  listed file must be present. Otherwise the batch is waiting (an upload in progress, a marker
  written too early) and is refused only after the grace period (ingest.ready_grace_minutes).
- resends: a committed batch never changes. Its files' received sha256 in the private store are
  the reference; a file whose listing signature (size, times, inode or ETag) is unchanged since
  the commit is not hashed again, any other is, so a same-size edit is still found.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from skinrisk.batch import (
    MANIFEST_NAME,
    READY_MARKER,
    BatchFormatError,
    ManifestReading,
    Problem,
    read_manifest,
)
from skinrisk.batch_marker import ReadyMarker, parse_ready_marker
from skinrisk.storage.landing import FileInfo
from skinrisk.storage.nofollow import FILE

SHOWN_LINES = 10


@dataclass(frozen=True)
class Arrival:
    """A complete batch's marker and manifest reading; or what it is still waiting for."""

    marker: ReadyMarker | None
    reading: ManifestReading | None
    waiting_for: str = ""  # empty: complete


def check_arrival(batch_id: str, marker_bytes: bytes, manifest_bytes: bytes | None,
                  present: Mapping[str, FileInfo], ethnicity_groups: tuple[str, ...]) -> Arrival:
    """Format errors (header, quoting) refuse the batch; an upload not yet complete waits.
    ``manifest_bytes``: None when the batch has no manifest."""
    if manifest_bytes is None:  # a marker written first, or a manifest never sent
        return Arrival(None, None, f"there is no {MANIFEST_NAME} in the batch (a producer "
                       f"writes {MANIFEST_NAME} and every image first, {READY_MARKER} last): "
                       f"add {MANIFEST_NAME}")
    try:
        marker = parse_ready_marker(marker_bytes, f"{batch_id}/{READY_MARKER}")
    except BatchFormatError as exc:
        return Arrival(None, None, "; ".join(str(p) for p in exc.problems))
    if hashlib.sha256(manifest_bytes).hexdigest() != marker.manifest_sha256:
        return Arrival(marker, None, f"{batch_id}/{READY_MARKER}: manifest_sha256 does not "
                       "match manifest.csv (the manifest is still being written, or changed "
                       "after the marker; a producer writes the marker last)")
    reading = read_manifest(decode_manifest(manifest_bytes, batch_id),
                            f"{batch_id}/{MANIFEST_NAME}", ethnicity_groups)
    rows = len(reading.rows) + len(reading.rejected)
    problems = []
    if marker.image_count != rows:
        problems.append(f"{batch_id}/{READY_MARKER}: image_count is {marker.image_count}, the "
                        f"manifest has {rows} row(s)")
    absent = sorted({r.line for r in reading.rows if r.file_name not in present}
                    | {r.line for r in reading.rejected
                       if r.file_name and r.file_name not in present and _usable(r.problems)})
    if absent:
        shown = ", ".join(map(str, absent[:SHOWN_LINES])) + (", ..." if len(absent) >
                                                               SHOWN_LINES else "")
        problems.append(f"{len(absent)} file(s) listed in {batch_id}/{MANIFEST_NAME} are not "
                        f"in the batch (manifest lines {shown})")
    return Arrival(marker, reading, "; ".join(problems))


def _usable(problems: tuple[Problem, ...]) -> bool:
    """A rejected row whose file name is itself broken names no file to wait for."""
    return not any(p.column == "file_name" for p in problems)


def decode_manifest(manifest: bytes, batch_id: str) -> str:
    try:
        return manifest.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BatchFormatError([Problem(f"{batch_id}/{MANIFEST_NAME}", None, None, (
            f"is not UTF-8 (first bad byte at offset {exc.start}); save it as UTF-8 CSV"))]
        ) from None


@dataclass(frozen=True)
class RecordedFile:
    kind: str
    signature: str | None  # None: committed before signatures were recorded
    received_sha256: str | None


def resend_changes(listing: Mapping[str, FileInfo], recorded: Mapping[str, RecordedFile],
                   digest: Callable[[str], str]) -> tuple[list[str], dict[str, str]]:
    """(what differs, described without names; signatures confirmed by hashing).

    ``listing`` without manifest and marker; ``digest(name)`` hashes a regular file's bytes.
    """
    changes: list[str] = []
    added, gone = set(listing) - set(recorded), set(recorded) - set(listing)
    if added:
        changes.append(f"{len(added)} file(s) added")
    if gone:
        changes.append(f"{len(gone)} file(s) removed")
    confirmed: dict[str, str] = {}
    edited = 0
    for name in sorted(set(listing) & set(recorded)):
        now, then = listing[name], recorded[name]
        if now.kind != then.kind:
            edited += 1
        elif now.signature and now.signature == then.signature:
            continue
        elif now.kind == FILE and digest(name) == then.received_sha256:
            confirmed[name] = now.signature  # touched, same bytes: no need to hash next time
        else:
            edited += 1
    if edited:
        changes.append(f"{edited} file(s) changed")
    return changes, confirmed

"""The ready marker and the whole-batch check: is a batch complete, and do its parts agree?

A producer writes ``_READY`` last, holding the manifest's sha256 and the image count; a reader
that finds the marker knows the upload is complete and can prove the manifest is the one that
was published.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields

from skinrisk.batch import (
    FORMAT_VERSION,
    MANIFEST_NAME,
    READY_MARKER,
    BatchFormatError,
    ManifestRow,
    Problem,
    parse_manifest,
)
from skinrisk.localfs import json_bytes
from skinrisk.vocabulary import ETHNICITY_GROUPS

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ReadyMarker:
    format_version: int
    manifest_sha256: str
    image_count: int


def make_ready_marker(manifest_bytes: bytes, image_count: int) -> bytes:
    marker = ReadyMarker(FORMAT_VERSION, hashlib.sha256(manifest_bytes).hexdigest(), image_count)
    return json_bytes(asdict(marker))


def parse_ready_marker(data: bytes, where: str = READY_MARKER) -> ReadyMarker:
    """The marker, with every field's type checked (a marker is written by a program; one
    that says "three" or true is a broken producer, not a count)."""
    try:
        record = json.loads(data)
    except ValueError:
        record = None
    problems = _marker_problems(record)
    if problems:
        raise BatchFormatError([Problem(where, None, column, message)
                                for column, message in problems])
    marker = ReadyMarker(**{f.name: record[f.name] for f in fields(ReadyMarker)})
    if marker.format_version != FORMAT_VERSION:
        raise BatchFormatError([Problem(where, None, "format_version", (
            f"batch format {marker.format_version} is not supported (this skinrisk reads "
            f"format {FORMAT_VERSION})"))])
    return marker


def _marker_problems(record: object) -> list[tuple[str | None, str]]:
    if not isinstance(record, dict):
        return [(None, "is not a valid ready marker: a producer writes it last, as a JSON "
                 "object with format_version, manifest_sha256 and image_count")]
    problems: list[tuple[str | None, str]] = []
    for name in ("format_version", "image_count"):
        value = record.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.append((name, "must be a whole number, 0 or more (JSON number, not text)"))
    sha = record.get("manifest_sha256")
    if not isinstance(sha, str) or not _SHA256.match(sha):
        problems.append(("manifest_sha256", "must be the manifest's sha256 as 64 lowercase "
                         "hex digits"))
    extra = sorted(set(record) - {f.name for f in fields(ReadyMarker)})
    if extra:
        problems.append((None, f"has {len(extra)} key(s) the format does not define; a marker "
                         "holds only format_version, manifest_sha256 and image_count"))
    return problems


@dataclass(frozen=True)
class Reconciliation:
    """How the manifest's rows and the files actually present in a batch agree."""

    missing: tuple[str, ...]  # listed in the manifest, not present
    extra: tuple[str, ...]  # present, not listed

    @property
    def ok(self) -> bool:
        return not self.missing and not self.extra


def reconcile(rows: Iterable[ManifestRow], present: Iterable[str]) -> Reconciliation:
    listed = {r.file_name for r in rows}
    files = {p for p in present if p not in (MANIFEST_NAME, READY_MARKER)}
    return Reconciliation(missing=tuple(sorted(listed - files)),
                          extra=tuple(sorted(files - listed)))


def verify_batch(manifest_bytes: bytes, marker_bytes: bytes, present: Iterable[str],
                 where: str = "", ethnicity_groups: tuple[str, ...] = ETHNICITY_GROUPS
                 ) -> list[ManifestRow]:
    """Check a complete batch: manifest, ready marker and the files present must all agree."""
    prefix = f"{where}/" if where else ""
    marker = parse_ready_marker(marker_bytes, prefix + READY_MARKER)
    if hashlib.sha256(manifest_bytes).hexdigest() != marker.manifest_sha256:
        # Checked first: a manifest that changed after the marker is an upload still in
        # progress or an edit, and its rows are not the batch the producer published.
        raise BatchFormatError([Problem(prefix + READY_MARKER, None, "manifest_sha256",
                                        "does not match manifest.csv; the manifest changed "
                                        "after the marker was written (resend the batch, "
                                        "marker last)")])
    try:
        text = manifest_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BatchFormatError([Problem(prefix + MANIFEST_NAME, None, None, (
            f"is not UTF-8 (first bad byte at offset {exc.start}); save it as UTF-8 CSV"))]
        ) from None
    rows = parse_manifest(text, prefix + MANIFEST_NAME, ethnicity_groups)
    problems = []
    if marker.image_count != len(rows):
        problems.append(Problem(prefix + READY_MARKER, None, "image_count",
                                f"says {marker.image_count} images, the manifest lists "
                                f"{len(rows)}"))
    check = reconcile(rows, present)
    line = {r.file_name: r.line for r in rows}
    # File names are named only by manifest line: they are text the hospital wrote (PAD's carry
    # patient ids). `skinrisk batch check --show-values` shows them on the sender's machine.
    problems += [Problem(prefix + MANIFEST_NAME, line[name], "file_name",
                         "the file this row lists is not in the batch", subject=name)
                 for name in check.missing]
    problems += [Problem(prefix.rstrip("/") or ".", None, None, "a file in the batch is not "
                         "listed in manifest.csv", subject=name)
                 for name in check.extra]
    if problems:
        raise BatchFormatError(problems)
    return rows

"""The ready marker and the whole-batch check: is a batch complete, and do its parts agree?

A producer writes ``_READY`` last, holding the manifest's sha256 and the image count; a reader
that finds the marker knows the upload is complete and can prove the manifest is the one that
was published.
"""

from __future__ import annotations

import hashlib
import json
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


@dataclass(frozen=True)
class ReadyMarker:
    format_version: int
    manifest_sha256: str
    image_count: int


def make_ready_marker(manifest_bytes: bytes, image_count: int) -> bytes:
    marker = ReadyMarker(FORMAT_VERSION, hashlib.sha256(manifest_bytes).hexdigest(), image_count)
    return (json.dumps(asdict(marker), indent=2) + "\n").encode()


def parse_ready_marker(data: bytes, where: str = READY_MARKER) -> ReadyMarker:
    try:
        record = json.loads(data)
        marker = ReadyMarker(**{f.name: record[f.name] for f in fields(ReadyMarker)})
    except (ValueError, KeyError, TypeError) as exc:
        raise BatchFormatError([Problem(where, None, None, (
            f"is not a valid ready marker ({exc}); a producer writes it last, as JSON with "
            "format_version, manifest_sha256 and image_count"))]) from exc
    if marker.format_version != FORMAT_VERSION:
        raise BatchFormatError([Problem(where, None, "format_version", (
            f"batch format {marker.format_version} is not supported (this skinrisk reads "
            f"format {FORMAT_VERSION})"))])
    return marker


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
                 where: str = "") -> list[ManifestRow]:
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
        raise BatchFormatError([Problem(prefix + MANIFEST_NAME, None, None,
                                        f"is not UTF-8 ({exc}); save it as UTF-8 CSV")]) from None
    rows = parse_manifest(text, prefix + MANIFEST_NAME)
    problems = []
    if marker.image_count != len(rows):
        problems.append(Problem(prefix + READY_MARKER, None, "image_count",
                                f"says {marker.image_count} images, the manifest lists "
                                f"{len(rows)}"))
    check = reconcile(rows, present)
    problems += [Problem(prefix + name, None, None, "listed in manifest.csv but not in the batch")
                 for name in check.missing]
    problems += [Problem(prefix + name, None, None, "in the batch but not listed in manifest.csv")
                 for name in check.extra]
    if problems:
        raise BatchFormatError(problems)
    return rows

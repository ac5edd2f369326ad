"""One batch through ingest, exactly once: every file ends accepted or quarantined, counted.

The runner only talks to adapters (landing batch, raw zone, private store); each is swappable,
and each write is atomic, so a kill at any point followed by a rerun ends in the same state.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from skinrisk import __version__
from skinrisk.batch import MANIFEST_NAME, READY_MARKER, BatchFormatError, Problem, read_manifest
from skinrisk.batch_marker import parse_ready_marker
from skinrisk.imaging.deidentify import Limits, deidentify_image
from skinrisk.imaging.errors import ImageRejected
from skinrisk.ingest.plan import FileTask, Refusal, plan_batch
from skinrisk.ingest.records import ImageRecord, QuarantineRecord, image_record, quarantine_record
from skinrisk.reasons import Reason
from skinrisk.storage.landing import BatchReader
from skinrisk.storage.private import PrivateStore
from skinrisk.storage.rawzone import RawZone

log = logging.getLogger(__name__)


@dataclass
class BatchOutcome:
    batch_id: str
    status: str  # ingested | unchanged | refused
    message: str = ""
    report: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Run:
    """What one batch's run has decided so far."""

    batch: BatchReader
    raw: RawZone
    private: PrivateStore
    now: str
    accepted: list[ImageRecord] = field(default_factory=list)
    quarantined: list[QuarantineRecord] = field(default_factory=list)
    files: list[dict[str, object]] = field(default_factory=list)  # private: name -> outcome
    owner: dict[str, str] = field(default_factory=dict)  # image_id -> surrogate patient

    def quarantine(self, line: int | None, name: str | None, reason: Reason, detail: str,
                   patient: str | None, data: bytes | None = None) -> None:
        qid = f"q{len(self.quarantined) + 1:05d}"
        stored_as = sha = None
        if name is not None:
            suffix = PurePosixPath(name).suffix.lower()
            suffix = suffix if suffix in (".jpg", ".jpeg", ".png") else ".bin"
            if data is not None:
                stored_as = self.raw.keep_quarantined(self.batch.batch_id, qid, suffix, data)
                sha = hashlib.sha256(data).hexdigest()
            else:  # never loaded (too large, or refused from the manifest): stream it
                target, stored_as = self.raw.quarantine_target(self.batch.batch_id, qid, suffix)
                sha = self.batch.copy_to(name, target)
            self.files.append({"file_name": name, "line": line, "received_sha256": sha,
                               "outcome": "quarantined", "image_id": None,
                               "quarantine_id": qid, "reason": reason.value})
        self.quarantined.append(quarantine_record(len(self.quarantined) + 1,
                                                  self.batch.batch_id, line, reason, detail,
                                                  sha, patient, stored_as, self.now))


def ingest_batch(batch: BatchReader, raw: RawZone, private: PrivateStore, limits: Limits,
                 now: str, landing_uri: str, advance: Callable[[], None] = lambda: None,
                 known: dict[str, str] | None = None) -> BatchOutcome:
    """``known``: image_id -> surrogate patient of the committed dataset, shared across the
    batches of one run (read once); this batch's images join it only once it is committed."""
    listing = batch.files()
    manifest = batch.read(MANIFEST_NAME).data
    marker = parse_ready_marker(batch.read(READY_MARKER).data, f"{batch.batch_id}/{READY_MARKER}")
    manifest_sha = hashlib.sha256(manifest).hexdigest()
    present = {n: i.size for n, i in listing.items() if n not in (MANIFEST_NAME, READY_MARKER)}
    previous = raw.report(batch.batch_id)
    if previous is not None:
        return _compare_with_previous(batch.batch_id, previous, manifest_sha, present)
    if manifest_sha != marker.manifest_sha256:
        raise BatchFormatError([Problem(f"{batch.batch_id}/{READY_MARKER}", None,
                                        "manifest_sha256", "does not match manifest.csv; the "
                                        "manifest changed after the marker was written")])
    reading = read_manifest(_decode(manifest, batch.batch_id), f"{batch.batch_id}/{MANIFEST_NAME}")
    plan = plan_batch(reading, present, limits.max_bytes)
    run = _Run(batch, raw, private, now,
               owner=dict(known) if known is not None else raw.known_images())
    for refusal in plan.refusals:
        run.quarantine(refusal.line, refusal.file_name, refusal.reason, refusal.detail,
                       _patient(private, refusal))
        advance()
    conflicts: set[str] = set()
    for task in plan.tasks:
        _ingest_file(run, task, limits, conflicts)
        advance()
    _quarantine_conflicts(run, conflicts)
    report = _report(batch.batch_id, landing_uri, manifest_sha, marker.image_count, plan.files_in,
                     plan.rows_in, present, run, limits)
    private.record_files(batch.batch_id, run.files)  # before the commit: a rerun rewrites it
    raw.commit(batch.batch_id, run.accepted, run.quarantined, report)
    if known is not None:
        known.update({r.image_id: r.patient for r in run.accepted})
    return BatchOutcome(batch.batch_id, "ingested", report=report)


def _ingest_file(run: _Run, task: FileTask, limits: Limits, conflicts: set[str]) -> None:
    row = task.row
    received = run.batch.read(row.file_name)
    patient = run.private.surrogate_patient(row.source, row.patient_id)
    try:
        stored = deidentify_image(received.data, limits)
    except ImageRejected as exc:
        run.quarantine(row.line, row.file_name, exc.reason, exc.detail, patient, received.data)
        return
    image_id = hashlib.sha256(stored.data).hexdigest()
    owner = run.owner.get(image_id)
    if owner is not None:
        reason = Reason.DUPLICATE_IMAGE if owner == patient else Reason.CONFLICTING_PATIENT
        if reason is Reason.CONFLICTING_PATIENT:
            conflicts.add(image_id)
        run.quarantine(row.line, row.file_name, reason, f"same image as {image_id}", patient,
                       received.data)
        return
    run.raw.store_image(run.batch.batch_id, image_id, stored.format, stored.data)
    lesion = run.private.surrogate_lesion(row.source, row.patient_id, row.lesion_id)
    run.accepted.append(image_record(row, stored, image_id, received.sha256, run.batch.batch_id,
                                     patient, lesion, run.now))
    run.owner[image_id] = patient
    run.files.append({"file_name": row.file_name, "line": row.line,
                      "received_sha256": received.sha256, "outcome": "accepted",
                      "image_id": image_id, "quarantine_id": None, "reason": None})


def _quarantine_conflicts(run: _Run, conflicts: set[str]) -> None:
    """Same bytes under two patients in this batch: the first one accepted goes back out too.

    (A conflict with an image of an earlier batch leaves that one as it is: committed batches
    never change; the report names the image so a person can resolve it.)
    """
    for record in [r for r in run.accepted if r.image_id in conflicts]:
        run.accepted.remove(record)
        entry = next(f for f in run.files if f["image_id"] == record.image_id)
        run.files.remove(entry)
        run.quarantine(int(entry["line"]), str(entry["file_name"]),  # type: ignore[arg-type]
                       Reason.CONFLICTING_PATIENT, f"same image as {record.image_id}",
                       record.patient)


def _patient(private: PrivateStore, refusal: Refusal) -> str | None:
    row = refusal.row
    return private.surrogate_patient(row.source, row.patient_id) if row else None


def _decode(manifest: bytes, batch_id: str) -> str:
    try:
        return manifest.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BatchFormatError([Problem(f"{batch_id}/{MANIFEST_NAME}", None, None,
                                        f"is not UTF-8 ({exc}); save it as UTF-8 CSV")]) from None


def _compare_with_previous(batch_id: str, previous: dict[str, Any], manifest_sha: str,
                           present: dict[str, int]) -> BatchOutcome:
    same = (previous["manifest_sha256"] == manifest_sha
            and previous["files_in"] == len(present)
            and previous["bytes_in"] == sum(present.values()))
    if same:
        return BatchOutcome(batch_id, "unchanged", "already ingested", previous)
    return BatchOutcome(batch_id, "refused", (
        f"batch {batch_id} was ingested at {previous['ingested_at']} (manifest sha256 "
        f"{previous['manifest_sha256'][:12]}…, {previous['files_in']} files); the landing zone "
        "now holds different content. A committed batch never changes: send the changes as a "
        "new batch id. Nothing was changed."), previous)


def _report(batch_id: str, landing_uri: str, manifest_sha: str, marker_count: int,
            files_in: int, rows_in: int, present: dict[str, int], run: _Run,
            limits: Limits) -> dict[str, Any]:
    with_file = sum(1 for q in run.quarantined if q.stored_as)
    accepted = len(run.accepted)
    if accepted + with_file != files_in:  # every file ends in exactly one place
        raise AssertionError(f"{batch_id}: {files_in} files in, {accepted} accepted + "
                             f"{with_file} quarantined")
    rows_out = accepted + sum(1 for q in run.quarantined if q.line is not None)
    if rows_out != rows_in:
        raise AssertionError(f"{batch_id}: {rows_in} rows in, {rows_out} rows out")
    return {
        "batch_id": batch_id, "landing": landing_uri, "manifest_sha256": manifest_sha,
        "marker_image_count": marker_count, "files_in": files_in, "bytes_in": sum(present.values()),
        "rows_in": rows_in, "accepted": accepted, "quarantined_files": with_file,
        "quarantined_rows": sum(1 for q in run.quarantined if q.line is not None),
        "by_reason": dict(sorted(Counter(q.reason for q in run.quarantined).items())),
        "transforms": dict(sorted(Counter(r.transform for r in run.accepted).items())),
        "images_sha256": hashlib.sha256("\n".join(sorted(r.image_id for r in run.accepted))
                                        .encode()).hexdigest(),
        "limits": {"max_bytes": limits.max_bytes, "max_pixels": limits.max_pixels,
                   "jpeg_quality": limits.jpeg_quality},
        "ingested_at": run.now, "skinrisk_version": __version__,
    }

"""One batch through ingest, exactly once: every file ends accepted or quarantined, counted.

The runner only talks to adapters (landing batch, raw zone, private store); each is swappable,
and each write is atomic, so a kill at any point followed by a rerun ends in the same state.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from skinrisk import __version__
from skinrisk.batch import MANIFEST_NAME, READY_MARKER
from skinrisk.errors import SkinriskError
from skinrisk.imaging.deidentify import Limits, deidentify_image
from skinrisk.imaging.errors import ImageRejected
from skinrisk.ingest.arrival import RecordedFile, check_arrival, resend_changes
from skinrisk.ingest.plan import FileTask, Refusal, plan_batch
from skinrisk.reasons import Reason
from skinrisk.storage.landing import BatchReader, FileInfo
from skinrisk.storage.nofollow import FILE
from skinrisk.storage.private import PrivateStore
from skinrisk.storage.rawrecords import (
    ImageRecord,
    QuarantineRecord,
    image_record,
    quarantine_record,
)
from skinrisk.storage.rawzone import RawZone

log = logging.getLogger(__name__)


class BatchRefused(SkinriskError):
    """A batch refused for what it is (format, a changed resend, never completed): recorded
    once, skipped with a warning until its content changes. Other errors (a transfer failure,
    an entry swapped during the read) are not recorded: the next run simply tries again."""


@dataclass
class BatchOutcome:
    batch_id: str
    status: str  # ingested | unchanged | waiting | refused
    message: str = ""
    report: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Arrivals:
    """How long a batch may stay incomplete after its marker, and the clock to judge it by."""

    grace_s: float
    now_s: float
    ethnicity_groups: tuple[str, ...]


@dataclass
class _Run:
    """What one batch's run has decided so far."""

    batch: BatchReader
    raw: RawZone
    private: PrivateStore
    now: str
    present: dict[str, FileInfo]
    accepted: list[ImageRecord] = field(default_factory=list)
    quarantined: list[QuarantineRecord] = field(default_factory=list)
    files: list[dict[str, object]] = field(default_factory=list)  # private: name -> outcome
    owner: dict[str, str] = field(default_factory=dict)  # image_id -> surrogate patient

    def record_file(self, name: str, line: int | None, sha: str | None, image_id: str | None,
                    qid: str | None = None, reason: Reason | None = None) -> None:
        """Where a received file went (private store): the reference a resend is judged by."""
        info = self.present[name]
        self.files.append({"file_name": name, "line": line, "received_sha256": sha,
                           "outcome": "accepted" if image_id else "quarantined",
                           "image_id": image_id, "quarantine_id": qid,
                           "reason": reason.value if reason else None,
                           "kind": info.kind, "signature": info.signature})

    def quarantine(self, line: int | None, name: str | None, reason: Reason, detail: str,
                   patient: str | None, data: bytes | None = None,
                   entry: FileInfo | None = None) -> None:
        """``entry``: a link or special entry, never read: a small record of what it was is
        kept in its place (the entry itself stays in the landing zone)."""
        qid = f"q{len(self.quarantined) + 1:05d}"
        stored_as = sha = None
        if name is not None:
            suffix = PurePosixPath(name).suffix.lower()
            suffix = suffix if suffix in (".jpg", ".jpeg", ".png") else ".bin"
            if entry is not None:
                stub = json.dumps({"entry": entry.what, "read": False}).encode() + b"\n"
                stored_as = self.raw.keep_quarantined(self.batch.batch_id, qid, ".entry.json",
                                                      stub)
            elif data is not None:
                stored_as = self.raw.keep_quarantined(self.batch.batch_id, qid, suffix, data)
                sha = hashlib.sha256(data).hexdigest()
            else:  # never loaded (too large, or refused from the manifest): stream it
                target, stored_as = self.raw.quarantine_target(self.batch.batch_id, qid, suffix)
                sha = self.batch.copy_to(name, target)
            self.record_file(name, line, sha, None, qid, reason)
        self.quarantined.append(quarantine_record(len(self.quarantined) + 1,
                                                  self.batch.batch_id, line, reason, detail,
                                                  sha, patient, stored_as, self.now))


def ingest_batch(batch: BatchReader, raw: RawZone, private: PrivateStore, limits: Limits,
                 now: str, landing_uri: str, arrivals: Arrivals,
                 advance: Callable[[int, int], None] = lambda done, total: None,
                 known: dict[str, str] | None = None,
                 listing: dict[str, FileInfo] | None = None,
                 before_commit: Callable[[], None] = lambda: None) -> BatchOutcome:
    """``known``: image_id -> surrogate patient of the committed dataset, shared across the
    batches of one run (read once); this batch's images join it only once it is committed.
    ``listing``: batch.files() when the caller has it already. ``before_commit``: raises when
    the batch may no longer be committed (the ingest lock lost). ``advance(done, total)``:
    after each file, refused or read, of the batch's plan."""
    listing = batch.files() if listing is None else listing
    for name in (MANIFEST_NAME, READY_MARKER):
        if name in listing and listing[name].kind != FILE:
            raise BatchRefused(f"{batch.batch_id}/{name} is a {listing[name].what}, not a "
                               "regular file; it was not followed. Send the file itself")
    manifest = batch.read(MANIFEST_NAME).data if MANIFEST_NAME in listing else None
    present = {n: i for n, i in listing.items() if n not in (MANIFEST_NAME, READY_MARKER)}
    previous = raw.report(batch.batch_id)
    if previous is not None:
        return _compare_with_previous(batch, previous, manifest, present, private)
    arrival = check_arrival(batch.batch_id, batch.read(READY_MARKER).data, manifest, present,
                            arrivals.ethnicity_groups)
    if arrival.waiting_for:
        return _waiting(batch, arrival.waiting_for, arrivals)
    assert arrival.marker is not None and arrival.reading is not None and manifest is not None
    plan = plan_batch(arrival.reading, present, limits.max_bytes)
    run = _Run(batch, raw, private, now, present,
               owner=dict(known) if known is not None else raw.known_images())
    total, done = len(plan.refusals) + len(plan.tasks), 0
    for refusal in plan.refusals:
        run.quarantine(refusal.line, refusal.file_name, refusal.reason, refusal.detail,
                       _patient(private, refusal), entry=None if refusal.readable
                       else present[refusal.file_name or ""])
        done += 1
        advance(done, total)
    conflicts: set[str] = set()
    for task in plan.tasks:
        _ingest_file(run, task, limits, conflicts)
        done += 1
        advance(done, total)
    _quarantine_conflicts(run, conflicts)
    report = _report(batch.batch_id, landing_uri, hashlib.sha256(manifest).hexdigest(),
                     arrival.marker.image_count, plan.files_in, plan.rows_in, present, run, limits)
    before_commit()
    private.record_files(batch.batch_id, run.files)  # before the commit: a rerun rewrites it
    raw.commit(batch.batch_id, run.accepted, run.quarantined, report)
    if known is not None:
        known.update({r.image_id: r.patient for r in run.accepted})
    return BatchOutcome(batch.batch_id, "ingested", report=report)


def _waiting(batch: BatchReader, waiting_for: str, arrivals: Arrivals) -> BatchOutcome:
    waited = arrivals.now_s - batch.ready_at()
    if waited < arrivals.grace_s:
        return BatchOutcome(batch.batch_id, "waiting", (
            f"batch {batch.batch_id} has its ready marker but is not complete: {waiting_for}. "
            f"Left waiting ({waited / 60:.0f} of {arrivals.grace_s / 60:.0f} minutes' grace); "
            "it is ingested once complete, refused if still incomplete after the grace"))
    raise BatchRefused(f"batch {batch.batch_id} is still incomplete {waited / 60:.0f} minutes "
                       f"after its ready marker: {waiting_for}. Refused: resend it complete, "
                       "the marker last (a new batch id, or fix it in place and rerun)")


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
    device = run.private.device_token(row.device) if row.device else None
    run.accepted.append(image_record(row, stored, image_id, received.sha256, run.batch.batch_id,
                                     patient, lesion, device, run.now))
    run.owner[image_id] = patient
    run.record_file(row.file_name, row.line, received.sha256, image_id)


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


def _compare_with_previous(batch: BatchReader, previous: dict[str, Any], manifest: bytes | None,
                           present: dict[str, FileInfo], private: PrivateStore) -> BatchOutcome:
    """A committed batch seen again: unchanged (nothing to do) or refused (nothing changed)."""
    recorded = {str(f["file_name"]): RecordedFile(str(f.get("kind") or FILE),
                                                  f.get("signature"),  # type: ignore[arg-type]
                                                  f.get("received_sha256"))  # type: ignore[arg-type]
                for f in private.files_of(batch.batch_id)}
    changes, confirmed = resend_changes(present, recorded, lambda n: batch.digest(n))
    if manifest is None:
        changes.insert(0, f"{MANIFEST_NAME} removed")
    elif hashlib.sha256(manifest).hexdigest() != previous["manifest_sha256"]:
        changes.insert(0, f"{MANIFEST_NAME} changed")
    if not changes:
        if confirmed:
            private.confirm_signatures(batch.batch_id, confirmed)
        return BatchOutcome(batch.batch_id, "unchanged", "already ingested", previous)
    raise BatchRefused(
        f"batch {batch.batch_id} was ingested at {previous['ingested_at']} ({previous['files_in']}"
        f" files); the landing zone now holds different content ({', '.join(changes)}). A "
        "committed batch never changes: send the changes as a new batch id. Nothing was changed")


def _report(batch_id: str, landing_uri: str, manifest_sha: str, marker_count: int,
            files_in: int, rows_in: int, present: dict[str, FileInfo], run: _Run,
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
        "marker_image_count": marker_count, "files_in": files_in,
        "bytes_in": sum(i.size for i in present.values()),
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

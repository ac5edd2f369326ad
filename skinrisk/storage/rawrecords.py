"""The rows ingest writes: one per accepted image, one per quarantined row or file.

Neither carries a source patient id, a source lesion id or a received file name: those stay in
the private store. Column names here are the raw zone's table schema.
"""

from __future__ import annotations

from dataclasses import dataclass

from skinrisk.batch import ManifestRow
from skinrisk.imaging.deidentify import StoredImage
from skinrisk.reasons import Reason
from skinrisk.taxonomy import resolve_diagnosis


@dataclass(frozen=True)
class ImageRecord:
    image_id: str  # sha256 of the stored (de-identified) bytes
    batch_id: str
    source: str
    patient: str  # surrogate
    lesion: str  # surrogate
    diagnosis: str  # the code as sent
    tumor_type: str | None
    grade: str
    flags: str  # taxonomy flags, ";"-separated
    pathology_verified: bool
    body_site: str | None
    fitzpatrick: int | None
    ethnicity: str | None
    capture_month: str | None  # YYYY-MM
    device: str | None  # keyed hash of the device as sent (skinrisk.surrogates), never the text
    width: int
    height: int
    format: str
    bytes: int
    received_sha256: str
    orientation: int
    transform: str
    converted_from: str | None
    ingested_at: str


@dataclass(frozen=True)
class QuarantineRecord:
    quarantine_id: str
    batch_id: str
    line: int | None  # manifest line, None for a file the manifest does not list
    reason: str
    detail: str  # never holds names or identifiers
    received_sha256: str | None  # None when there was no file
    patient: str | None  # surrogate, when the row named a patient
    stored_as: str | None  # path of the kept file under the quarantine zone
    quarantined_at: str


def image_record(row: ManifestRow, stored: StoredImage, image_id: str, received_sha256: str,
                 batch_id: str, patient: str, lesion: str, device: str | None, now: str
                 ) -> ImageRecord:
    diagnosis = resolve_diagnosis(row.diagnosis)
    return ImageRecord(
        image_id=image_id, batch_id=batch_id, source=row.source, patient=patient, lesion=lesion,
        diagnosis=row.diagnosis,
        tumor_type=diagnosis.tumor_type.key if diagnosis.tumor_type else None,
        grade=diagnosis.grade.value, flags=";".join(f.value for f in diagnosis.flags),
        pathology_verified=row.pathology_verified, body_site=row.body_site,
        fitzpatrick=row.fitzpatrick, ethnicity=row.ethnicity,
        capture_month=row.capture_date[:7] if row.capture_date else None, device=device,
        width=stored.width, height=stored.height, format=stored.format, bytes=len(stored.data),
        received_sha256=received_sha256, orientation=stored.orientation,
        transform=stored.transform, converted_from=stored.converted_from, ingested_at=now,
    )


def quarantine_record(index: int, batch_id: str, line: int | None, reason: Reason, detail: str,
                      received_sha256: str | None, patient: str | None, stored_as: str | None,
                      now: str) -> QuarantineRecord:
    return QuarantineRecord(f"q{index:05d}", batch_id, line, reason.value, detail,
                            received_sha256, patient, stored_as, now)

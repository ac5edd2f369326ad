"""PAD-UFES-20 (Pacheco et al., Data in Brief 2020; CC BY 4.0) as a hospital batch, as it is.

The photos are copied byte for byte (mixed sizes, PNG); the dataset's own codes keep their
"PAD:" vocabulary prefix so that PAD's SCC, which includes Bowen's disease, is graded and flagged
as such; missing skin types stay missing. Capture date, device and ethnicity are not recorded.
"""

from __future__ import annotations

import csv
import io

from skinrisk.batch import BatchFormatError, ManifestRow, Problem

SOURCE = "pad-ufes-20"
METADATA_COLUMNS = ("img_id", "patient_id", "lesion_id", "diagnostic", "fitzpatrick", "region",
                    "biopsed")


def pad_rows(metadata_csv: str, limit: int | None = None,
             where: str = "metadata.csv") -> list[ManifestRow]:
    """Manifest rows for the sample's metadata, sorted by file name, the first ``limit`` of them."""
    reader = csv.DictReader(io.StringIO(metadata_csv, newline=""))
    missing = [c for c in METADATA_COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise BatchFormatError([Problem(where, 1, c, "PAD-UFES-20 column missing; is this the "
                                        "dataset's metadata.csv?") for c in missing])
    records = sorted(reader, key=lambda r: r["img_id"])[:limit]
    return [_row(i, r) for i, r in enumerate(records)]


def _row(index: int, record: dict[str, str]) -> ManifestRow:
    fitzpatrick = record["fitzpatrick"].strip()
    return ManifestRow(
        line=index + 2,
        file_name=f"images/{record['img_id']}",
        patient_id=record["patient_id"],
        lesion_id=record["lesion_id"],
        diagnosis=f"PAD:{record['diagnostic']}",
        pathology_verified=record["biopsed"].strip().lower() == "true",
        body_site=record["region"].strip().lower() or None,
        fitzpatrick=int(float(fitzpatrick)) if fitzpatrick else None,
        ethnicity=None,
        capture_date=None,
        device=None,
        source=SOURCE,
    )

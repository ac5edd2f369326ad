"""PAD-UFES-20 (Pacheco et al., Data in Brief 2020; CC BY 4.0) as a hospital batch, as it is.

The photos are copied byte for byte (mixed sizes, PNG); the dataset's own codes keep their
"PAD:" vocabulary prefix so that PAD's SCC, which includes Bowen's disease, is graded and flagged
as such; missing skin types stay missing. Capture date, device and ethnicity are not recorded.

The metadata is read as published (26 columns, the skin type spelled ``fitspatrick``, given as
"3.0"), or as the 7-column sample beside this checkout (``fitzpatrick``). Only the columns a batch
has a place for are read; the others (habits, family history, symptoms, lesion diameters) never
leave the sender's machine. Images the metadata lists but the folder lacks (the dataset is often
copied in part) are left out and named, not a reason to refuse the rest.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection
from dataclasses import dataclass

from skinrisk.batch import BatchFormatError, ManifestRow, Problem

SOURCE = "pad-ufes-20"
METADATA_COLUMNS = ("img_id", "patient_id", "lesion_id", "diagnostic", "region", "biopsed")
SKIN_TYPE_COLUMNS = ("fitzpatrick", "fitspatrick")  # the sample's spelling, the published one
_MISSING = {"", "unk", "nan", "none"}  # how the published file leaves a skin type unknown


@dataclass(frozen=True)
class PadSelection:
    rows: list[ManifestRow]  # listed and present, by file name, the first ``limit`` of them
    absent: list[str]  # image file names listed in the metadata with no file, sorted


def pad_rows(metadata_csv: str, limit: int | None = None,
             where: str = "metadata.csv") -> list[ManifestRow]:
    """Manifest rows for the metadata, sorted by file name, the first ``limit`` of them."""
    reader = csv.DictReader(io.StringIO(metadata_csv, newline=""))
    skin_type = _skin_type_column(reader.fieldnames or (), where)
    records = [(reader.line_num, record) for record in reader]
    records.sort(key=lambda r: r[1]["img_id"])
    return [_row(line, r, skin_type, where) for line, r in records[:limit]]


def select_present(rows: list[ManifestRow], present: Collection[str], limit: int | None = None
                   ) -> PadSelection:
    """``present``: the image file names found in the dataset's images/ folder."""
    found = [r for r in rows if _image_name(r) in present]
    absent = sorted(_image_name(r) for r in rows if _image_name(r) not in present)
    return PadSelection(found[:limit], absent)


def _image_name(row: ManifestRow) -> str:
    return row.file_name.removeprefix("images/")


def _skin_type_column(header: Collection[str], where: str) -> str:
    missing = [c for c in METADATA_COLUMNS if c not in header]
    spelled = [c for c in SKIN_TYPE_COLUMNS if c in header]
    if not spelled:
        missing.append("fitspatrick")
    if missing:
        raise BatchFormatError([Problem(where, 1, c, "PAD-UFES-20 column missing; is this the "
                                        "dataset's metadata.csv?") for c in missing])
    if len(spelled) > 1:
        raise BatchFormatError([Problem(where, 1, "fitspatrick", "the skin type is given twice "
                                        "(fitzpatrick and fitspatrick); keep one column")])
    return spelled[0]


def _row(line: int, record: dict[str, str], skin_type: str, where: str) -> ManifestRow:
    return ManifestRow(
        line=line,
        file_name=f"images/{record['img_id']}",
        patient_id=record["patient_id"],
        lesion_id=record["lesion_id"],
        diagnosis=f"PAD:{record['diagnostic']}",
        pathology_verified=record["biopsed"].strip().lower() == "true",
        body_site=record["region"].strip().lower() or None,
        fitzpatrick=_fitzpatrick(record[skin_type], where, line, skin_type),
        ethnicity=None,
        capture_date=None,
        device=None,
        source=SOURCE,
    )


def _fitzpatrick(text: str | None, where: str, line: int, column: str) -> int | None:
    value = (text or "").strip()
    if value.lower() in _MISSING:
        return None
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not (number.is_integer() and 1 <= number <= 6):
        raise BatchFormatError([Problem(where, line, column, "not a skin type: write 1 to 6 "
                                        "(or 1.0 to 6.0), or leave it empty when unknown")])
    return int(number)

"""The hospital-batch format, defined once: what a hospital drops into the landing zone.

A batch is a folder (or S3 prefix) named by its batch id, holding:
- the images (JPEG or PNG), at any depth below the batch folder;
- ``manifest.csv``: one row per image, columns as in ``COLUMNS``;
- ``_READY``: written last, after every image and the manifest. Its content is JSON naming the
  format version, the manifest's sha256 and the image count, so a reader can tell a complete batch
  from one still being uploaded. A batch without the marker is not read.

Parsing is pure (text in, rows out) so that the local and the S3 landing zones share it.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import PurePosixPath

from skinrisk.errors import SkinriskError
from skinrisk.reasons import Reason
from skinrisk.taxonomy import UnknownDiagnosisError, resolve_diagnosis

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.csv"
READY_MARKER = "_READY"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
MAX_REPORTED_PROBLEMS = 50

_BATCH_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_DATE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?$")
_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6}
_TRUE, _FALSE = {"true", "yes", "y", "1"}, {"false", "no", "n", "0"}


@dataclass(frozen=True)
class Column:
    name: str
    required: bool  # False: the column must be present, the value may be empty
    meaning: str


COLUMNS: tuple[Column, ...] = (
    Column("file_name", True, "image path relative to the batch folder, e.g. images/0001.jpg"),
    Column("patient_id", True, "the hospital's patient id; never leaves ingest"),
    Column("lesion_id", True, "the hospital's lesion id (several photos per lesion)"),
    Column("diagnosis", True, "diagnosis code known to `skinrisk taxonomy`"),
    Column("pathology_verified", True, "true/false: confirmed by histopathology"),
    Column("body_site", False, "anatomical site, e.g. face, finger"),
    Column("fitzpatrick", False, "Fitzpatrick skin type 1-6 or I-VI"),
    Column("ethnicity", False, "ethnicity group as the hospital records it"),
    Column("capture_date", False, "YYYY-MM-DD or YYYY-MM (coarsened to YYYY-MM at ingest)"),
    Column("device", False, "camera or phone model"),
    Column("source", True, "hospital or data source id"),
)
COLUMN_NAMES = tuple(c.name for c in COLUMNS)


@dataclass(frozen=True)
class ManifestRow:
    line: int  # line in manifest.csv, header = 1
    file_name: str
    patient_id: str
    lesion_id: str
    diagnosis: str
    pathology_verified: bool
    body_site: str | None
    fitzpatrick: int | None
    ethnicity: str | None
    capture_date: str | None
    device: str | None
    source: str


@dataclass(frozen=True)
class Problem:
    where: str
    line: int | None
    column: str | None
    message: str
    reason: Reason | None = None  # set for row problems: what the row is quarantined for

    def __str__(self) -> str:
        place = self.where + (f" line {self.line}" if self.line else "")
        place += f", column {self.column!r}" if self.column else ""
        return f"{place}: {self.message}"


class BatchFormatError(SkinriskError):
    """A batch that does not follow the format; lists every problem (up to a limit)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        shown = [f"  - {p}" for p in self.problems[:MAX_REPORTED_PROBLEMS]]
        if len(self.problems) > MAX_REPORTED_PROBLEMS:
            shown.append(f"  ... and {len(self.problems) - MAX_REPORTED_PROBLEMS} more")
        super().__init__(
            f"{len(self.problems)} problem(s) in the batch; fix them at the source and resend "
            "the batch (the format is in README.md, 'The hospital-batch format'):\n"
            + "\n".join(shown)
        )


def check_batch_id(batch_id: str) -> str:
    if not _BATCH_ID.match(batch_id):
        raise SkinriskError(
            f"batch id {batch_id!r} is not valid: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (the batch folder or S3 prefix is named by it)"
        )
    return batch_id


@dataclass(frozen=True)
class RejectedRow:
    """A manifest row that cannot be accepted; ingest quarantines it (and its file) for reason."""

    line: int
    file_name: str  # as written, possibly unusable; "" when the column was empty
    reason: Reason
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class ManifestReading:
    rows: tuple[ManifestRow, ...]
    rejected: tuple[RejectedRow, ...]


def read_manifest(text: str, where: str = MANIFEST_NAME) -> ManifestReading:
    """Every row, accepted or rejected with a reason. A broken header refuses the whole batch."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header_problems = _check_header(reader.fieldnames, where)
    if header_problems:
        raise BatchFormatError(header_problems)
    rows: list[ManifestRow] = []
    rejected: list[RejectedRow] = []
    for raw in reader:
        line = reader.line_num
        if None in raw or any(v is None for v in raw.values()):
            problem = Problem(where, line, None, "has a different number of fields than the "
                              f"header ({len(COLUMN_NAMES)}); check quoting of commas",
                              Reason.BAD_VALUE)
            rejected.append(RejectedRow(line, "", Reason.BAD_VALUE, (problem,)))
            continue
        row, problems = _parse_row(raw, line, where)
        if row is not None:
            rows.append(row)
        else:
            reason = min((p.reason for p in problems if p.reason), key=_REASON_ORDER.index)
            rejected.append(RejectedRow(line, (raw.get("file_name") or "").strip(), reason,
                                        tuple(problems)))
    rows, duplicates = _split_duplicates(rows, where)
    if not rows and not rejected and not duplicates:
        raise BatchFormatError([Problem(where, None, None, "has a header but no rows")])
    return ManifestReading(tuple(rows), tuple(sorted(rejected + duplicates,
                                                     key=lambda r: r.line)))


def parse_manifest(text: str, where: str = MANIFEST_NAME) -> list[ManifestRow]:
    """The strict reading: raise BatchFormatError naming every bad row and column."""
    reading = read_manifest(text, where)
    if reading.rejected:
        raise BatchFormatError([p for r in reading.rejected for p in r.problems])
    return list(reading.rows)


# When a row has several problems, the first of these names its quarantine reason.
_REASON_ORDER = (Reason.BAD_FILE_NAME, Reason.MISSING_REQUIRED, Reason.UNSAFE_VALUE,
                 Reason.UNKNOWN_DIAGNOSIS, Reason.BAD_VALUE)


def _check_header(fieldnames: Sequence[str] | None, where: str) -> list[Problem]:
    if not fieldnames:
        return [Problem(where, 1, None, "is empty; the first line must be the header "
                        + ",".join(COLUMN_NAMES))]
    names = [n.strip() for n in fieldnames]
    problems = [Problem(where, 1, c, "required column is missing from the header")
                for c in COLUMN_NAMES if c not in names]
    # Unknown columns are refused rather than carried: they are where names, birth dates and
    # record numbers would slip past de-identification.
    problems += [Problem(where, 1, n, "unknown column; remove it (the format has only "
                         + ", ".join(COLUMN_NAMES) + ")")
                 for n in names if n not in COLUMN_NAMES]
    problems += [Problem(where, 1, n, "column appears more than once")
                 for n, k in Counter(names).items() if k > 1]
    if names != list(fieldnames):
        problems.append(Problem(where, 1, None, "column names have surrounding spaces"))
    return problems


def _parse_row(raw: dict[str, str], line: int, where: str
               ) -> tuple[ManifestRow | None, list[Problem]]:
    values = {k: v.strip() for k, v in raw.items()}
    problems: list[Problem] = []

    def bad(column: str, message: str, reason: Reason = Reason.BAD_VALUE) -> None:
        problems.append(Problem(where, line, column, message, reason))

    for column in COLUMNS:
        if column.required and not values[column.name]:
            bad(column.name, "is empty; this column needs a value in every row",
                Reason.MISSING_REQUIRED)
        elif _is_formula(raw[column.name]):
            bad(column.name, "starts like a spreadsheet formula (=, +, @, -, tab); "
                "remove the leading character", Reason.UNSAFE_VALUE)
    if values["file_name"]:
        for message in _file_name_problems(values["file_name"]):
            bad("file_name", message, Reason.BAD_FILE_NAME)
    if values["diagnosis"]:
        try:
            resolve_diagnosis(values["diagnosis"])
        except UnknownDiagnosisError:
            bad("diagnosis", f"unknown diagnosis code {values['diagnosis']!r}; "
                "`skinrisk taxonomy` lists the known codes", Reason.UNKNOWN_DIAGNOSIS)
    verified = _parse_bool(values["pathology_verified"])
    if values["pathology_verified"] and verified is None:
        bad("pathology_verified", f"{values['pathology_verified']!r} is not true/false")
    fitzpatrick = _parse_fitzpatrick(values["fitzpatrick"])
    if values["fitzpatrick"] and fitzpatrick is None:
        bad("fitzpatrick", f"{values['fitzpatrick']!r} is not a Fitzpatrick type; "
            "use 1-6 or I-VI, or leave it empty")
    if values["capture_date"] and not _DATE.match(values["capture_date"]):
        bad("capture_date", f"{values['capture_date']!r} is not YYYY-MM-DD or YYYY-MM")
    if problems:
        return None, problems
    return ManifestRow(
        line=line, file_name=values["file_name"], patient_id=values["patient_id"],
        lesion_id=values["lesion_id"], diagnosis=values["diagnosis"],
        pathology_verified=bool(verified), body_site=values["body_site"].lower() or None,
        fitzpatrick=fitzpatrick, ethnicity=values["ethnicity"] or None,
        capture_date=values["capture_date"] or None, device=values["device"] or None,
        source=values["source"],
    ), []


def _is_formula(value: str) -> bool:
    """A value a spreadsheet would run if a report were opened in one (CSV injection)."""
    if value[:1] in ("\t", "\r"):
        return True
    text = value.strip()
    if text[:1] in ("=", "+", "@"):
        return True
    return text.startswith("-") and not _NUMBER.match(text)


def _file_name_problems(file_name: str) -> list[str]:
    path = PurePosixPath(file_name)
    if "\\" in file_name or path.is_absolute() or ".." in path.parts:
        return [f"{file_name!r} must be a relative path inside the batch, with '/' separators"]
    if any(unicodedata.category(c).startswith("C") for c in file_name):
        # NUL, other control characters, zero-width and bidirectional-override characters:
        # ways to make one name look like another.
        return [f"{file_name!r} contains control or invisible characters"]
    if unicodedata.normalize("NFC", file_name) != file_name:
        return [f"{file_name!r} is not in Unicode NFC form; save names in NFC"]
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return [f"{file_name!r} is not an image file name (expected {', '.join(IMAGE_SUFFIXES)})"]
    return []


def _parse_bool(text: str) -> bool | None:
    low = text.lower()
    return True if low in _TRUE else False if low in _FALSE else None


def _parse_fitzpatrick(text: str) -> int | None:
    up = text.upper()
    if up in _ROMAN:
        return _ROMAN[up]
    return int(up) if up.isdigit() and 1 <= int(up) <= 6 else None


def _split_duplicates(rows: list[ManifestRow], where: str
                      ) -> tuple[list[ManifestRow], list[RejectedRow]]:
    """Rows naming the same file are all rejected: which row's metadata is right is unknowable."""
    lines: dict[str, list[int]] = {}
    for row in rows:
        lines.setdefault(row.file_name, []).append(row.line)
    keep = [r for r in rows if len(lines[r.file_name]) == 1]
    rejected = [
        RejectedRow(r.line, r.file_name, Reason.DUPLICATE_ROW, (Problem(
            where, r.line, "file_name",
            f"{r.file_name!r} is listed on lines {', '.join(map(str, lines[r.file_name]))}; "
            "list each image once", Reason.DUPLICATE_ROW),))
        for r in rows if len(lines[r.file_name]) > 1]
    return keep, rejected


def render_manifest(rows: Iterable[ManifestRow]) -> str:
    """The manifest text for rows (the inverse of parse_manifest; used by batch producers)."""
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=COLUMN_NAMES, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        record = {k: v for k, v in asdict(row).items() if k != "line"}
        record["pathology_verified"] = "true" if row.pathology_verified else "false"
        writer.writerow({k: "" if v is None else v for k, v in record.items()})
    return out.getvalue()

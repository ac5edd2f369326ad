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
import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import PurePosixPath

from skinrisk.errors import SkinriskError
from skinrisk.taxonomy import UnknownDiagnosisError, resolve_diagnosis

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.csv"
READY_MARKER = "_READY"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
MAX_REPORTED_PROBLEMS = 50

_BATCH_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
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


def parse_manifest(text: str, where: str = MANIFEST_NAME) -> list[ManifestRow]:
    """Parse and check a whole manifest; raise BatchFormatError naming every bad row and column."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header_problems = _check_header(reader.fieldnames, where)
    if header_problems:
        raise BatchFormatError(header_problems)
    rows: list[ManifestRow] = []
    problems: list[Problem] = []
    for raw in reader:
        line = reader.line_num
        if None in raw or any(v is None for v in raw.values()):
            problems.append(Problem(where, line, None,
                                    f"has a different number of fields than the header "
                                    f"({len(COLUMN_NAMES)}); check quoting of commas"))
            continue
        row, row_problems = _parse_row(raw, line, where)
        problems += row_problems
        if row is not None:
            rows.append(row)
    problems += _duplicate_problems(rows, where)
    if not rows and not problems:
        problems.append(Problem(where, None, None, "has a header but no rows"))
    if problems:
        raise BatchFormatError(problems)
    return rows


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

    def bad(column: str, message: str) -> None:
        problems.append(Problem(where, line, column, message))

    for column in COLUMNS:
        if column.required and not values[column.name]:
            bad(column.name, "is empty; this column needs a value in every row")
    file_name = values["file_name"]
    if file_name:
        for message in _file_name_problems(file_name):
            bad("file_name", message)
    if values["diagnosis"]:
        try:
            resolve_diagnosis(values["diagnosis"])
        except UnknownDiagnosisError:
            bad("diagnosis", f"unknown diagnosis code {values['diagnosis']!r}; "
                "`skinrisk taxonomy` lists the known codes")
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
        line=line, file_name=file_name, patient_id=values["patient_id"],
        lesion_id=values["lesion_id"], diagnosis=values["diagnosis"],
        pathology_verified=bool(verified), body_site=values["body_site"].lower() or None,
        fitzpatrick=fitzpatrick, ethnicity=values["ethnicity"] or None,
        capture_date=values["capture_date"] or None, device=values["device"] or None,
        source=values["source"],
    ), []


def _file_name_problems(file_name: str) -> list[str]:
    path = PurePosixPath(file_name)
    if "\\" in file_name or path.is_absolute() or ".." in path.parts:
        return [f"{file_name!r} must be a relative path inside the batch, with '/' separators"]
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


def _duplicate_problems(rows: Iterable[ManifestRow], where: str) -> list[Problem]:
    first_line: dict[str, int] = {}
    problems = []
    for row in rows:
        if row.file_name in first_line:
            problems.append(Problem(where, row.line, "file_name",
                                    f"{row.file_name!r} is listed again (first on line "
                                    f"{first_line[row.file_name]}); list each image once"))
        else:
            first_line[row.file_name] = row.line
    return problems


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

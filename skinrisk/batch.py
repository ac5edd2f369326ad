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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import PurePosixPath

from skinrisk.errors import SkinriskError
from skinrisk.reasons import Reason
from skinrisk.taxonomy import UnknownDiagnosisError, resolve_diagnosis
from skinrisk.vocabulary import (
    ETHNICITY_GROUPS,
    MAX_DEVICE_CHARS,
    MAX_ID_CHARS,
    SOURCE_ID,
    SOURCE_RULE,
    body_site_code,
    describe_value,
    group_code,
    has_unsafe_characters,
)

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
    Column("body_site", False, "anatomical site from the format's list (skinrisk.vocabulary), "
           "e.g. face, finger"),
    Column("fitzpatrick", False, "Fitzpatrick skin type 1-6 or I-VI"),
    Column("ethnicity", False, "ethnicity group from params.yaml ingest.ethnicity_groups"),
    Column("capture_date", False, "YYYY-MM-DD or YYYY-MM (coarsened to YYYY-MM at ingest)"),
    Column("device", False, "camera or phone model (kept only as a keyed hash)"),
    Column("source", True, "source id: lowercase letters, digits, '.', '_', '-'"),
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
    message: str  # never quotes a value the hospital sent (see skinrisk.vocabulary)
    reason: Reason | None = None  # set for row problems: what the row is quarantined for
    # The received file name or value the problem is about, for `skinrisk batch check
    # --show-values` on the sender's own machine only; never part of str(problem).
    subject: str | None = None

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
            "the batch (the format is in docs/batch-format.md):\n"
            + "\n".join(shown)
        )


BATCH_ID_RULE = ("1-128 letters, digits, '.', '_' or '-', starting with a letter or digit "
                 "(the batch folder or S3 prefix is named by it)")


def is_batch_id(text: str) -> bool:
    return bool(_BATCH_ID.match(text))


def check_batch_id(batch_id: str) -> str:
    """For ids a person typed (--batch): the message may show what they typed."""
    if not is_batch_id(batch_id):
        raise SkinriskError(f"batch id {batch_id!r} is not valid: use {BATCH_ID_RULE}")
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


def read_manifest(text: str, where: str = MANIFEST_NAME,
                  ethnicity_groups: tuple[str, ...] = ETHNICITY_GROUPS) -> ManifestReading:
    """Every row, accepted or rejected with a reason. A broken header, or quoting that breaks
    the file's structure (an unbalanced quote), refuses the whole batch naming the line."""
    records = _records(text.removeprefix("\ufeff"), where)
    header = next(records, None)
    header_problems = _check_header(header[2] if header else None, where)
    if header_problems:
        raise BatchFormatError(header_problems)
    rows: list[ManifestRow] = []
    rejected: list[RejectedRow] = []
    for line, _end, fields in records:
        if len(fields) != len(COLUMN_NAMES):
            problem = Problem(where, line, None, (
                f"has a different number of fields ({len(fields)}) than the header "
                f"({len(COLUMN_NAMES)}); check quoting of commas"), Reason.BAD_VALUE)
            rejected.append(RejectedRow(line, "", Reason.BAD_VALUE, (problem,)))
            continue
        raw = dict(zip(COLUMN_NAMES, fields, strict=True))
        row, problems = _parse_row(raw, line, where, ethnicity_groups)
        if row is not None:
            rows.append(row)
        else:
            reason = min((p.reason for p in problems if p.reason), key=_REASON_ORDER.index)
            rejected.append(RejectedRow(line, raw["file_name"].strip(), reason, tuple(problems)))
    rows, duplicates = _split_duplicates(rows, where)
    if not rows and not rejected and not duplicates:
        raise BatchFormatError([Problem(where, None, None, "has a header but no rows")])
    return ManifestReading(tuple(rows), tuple(sorted(rejected + duplicates,
                                                     key=lambda r: r.line)))


def _records(text: str, where: str) -> Iterator[tuple[int, int, list[str]]]:
    """(first line, last line, fields) per CSV record; blank lines are skipped."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    end = 0
    while True:
        start = end + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error:
            raise BatchFormatError([Problem(where, start, None, (
                "the quoting breaks the file from this line on (a double quote that is "
                "never closed, or text after a closing quote); close the quote, or write a "
                "quote inside a value as two (\"\")"))]) from None
        end = reader.line_num
        if end > start and _swallows_rows(fields):
            raise BatchFormatError([Problem(where, start, None, (
                f"a quoted value opens on this line and runs to line {end} over what look "
                "like whole rows: a double quote is not closed where it should be; close it, "
                "or write a quote inside a value as two (\"\")"))])
        if fields:
            yield start, end, fields


def _swallows_rows(fields: list[str]) -> bool:
    """A line break inside a value followed by field separators: rows read as one value."""
    return any(re.search(r"[\r\n][^\r\n]*,", value) for value in fields)


def parse_manifest(text: str, where: str = MANIFEST_NAME,
                   ethnicity_groups: tuple[str, ...] = ETHNICITY_GROUPS) -> list[ManifestRow]:
    """The strict reading: raise BatchFormatError naming every bad row and column."""
    reading = read_manifest(text, where, ethnicity_groups)
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
    # record numbers would slip past de-identification. Named by position: a header cell is
    # text the hospital wrote, too.
    problems += [Problem(where, 1, None, f"header field {i} ({describe_value(n)}) is not a "
                         "column of the format; remove it (the format has only "
                         + ", ".join(COLUMN_NAMES) + ")", subject=n)
                 for i, n in enumerate(names, 1) if n not in COLUMN_NAMES]
    problems += [Problem(where, 1, n, "column appears more than once")
                 for n, k in Counter(names).items() if k > 1 and n in COLUMN_NAMES]
    if names != list(fieldnames):
        problems.append(Problem(where, 1, None, "column names have surrounding spaces"))
    return problems


def _parse_row(raw: dict[str, str], line: int, where: str, ethnicity_groups: tuple[str, ...]
               ) -> tuple[ManifestRow | None, list[Problem]]:
    values = {k: v.strip() for k, v in raw.items()}
    problems: list[Problem] = []

    def bad(column: str, message: str, reason: Reason = Reason.BAD_VALUE) -> None:
        problems.append(Problem(where, line, column, message, reason, raw[column]))

    for column in COLUMNS:
        if has_unsafe_characters(raw[column.name]):
            bad(column.name, f"{describe_value(raw[column.name])}: holds a line break, control "
                "or invisible character; remove it", Reason.BAD_FILE_NAME
                if column.name == "file_name" else Reason.UNSAFE_VALUE)
        elif column.required and not values[column.name]:
            bad(column.name, "is empty; this column needs a value in every row",
                Reason.MISSING_REQUIRED)
        elif _is_formula(raw[column.name]):
            bad(column.name, "starts like a spreadsheet formula (=, +, @, -, tab); "
                "remove the leading character", Reason.UNSAFE_VALUE)
    if problems:  # the checks below assume printable text
        return None, problems
    _check_values(values, bad, ethnicity_groups)
    if problems:
        return None, problems
    return ManifestRow(
        line=line, file_name=values["file_name"], patient_id=values["patient_id"],
        lesion_id=values["lesion_id"], diagnosis=values["diagnosis"],
        pathology_verified=bool(_parse_bool(values["pathology_verified"])),
        body_site=body_site_code(values["body_site"]) if values["body_site"] else None,
        fitzpatrick=_parse_fitzpatrick(values["fitzpatrick"]),
        ethnicity=(group_code(values["ethnicity"], ethnicity_groups)
                   if values["ethnicity"] else None),
        capture_date=values["capture_date"] or None, device=values["device"] or None,
        source=values["source"],
    ), []


def _check_values(values: dict[str, str], bad: Callable[..., None],
                  ethnicity_groups: tuple[str, ...]) -> None:
    """Each column against its rule; messages name the rule, never the value."""
    if values["file_name"] and _file_name_problem(values["file_name"]):
        bad("file_name", str(_file_name_problem(values["file_name"])), Reason.BAD_FILE_NAME)
    if values["diagnosis"] and not _known_diagnosis(values["diagnosis"]):
        bad("diagnosis", "is not a known diagnosis code; `skinrisk taxonomy` lists the codes",
            Reason.UNKNOWN_DIAGNOSIS)
    for column in ("patient_id", "lesion_id"):
        if len(values[column]) > MAX_ID_CHARS:
            bad(column, f"is longer than {MAX_ID_CHARS} characters")
    if values["pathology_verified"] and _parse_bool(values["pathology_verified"]) is None:
        bad("pathology_verified", "is not true/false (also yes/no, 1/0)")
    if values["fitzpatrick"] and _parse_fitzpatrick(values["fitzpatrick"]) is None:
        bad("fitzpatrick", "is not a Fitzpatrick type; use 1-6 or I-VI, or leave it empty")
    if values["capture_date"] and not _DATE.match(values["capture_date"]):
        bad("capture_date", "is not a date written YYYY-MM-DD or YYYY-MM")
    if values["body_site"] and body_site_code(values["body_site"]) is None:
        bad("body_site", "is not a body site of the format's list (docs/batch-format.md); "
            "use one of them, or leave it empty")
    if values["ethnicity"] and group_code(values["ethnicity"], ethnicity_groups) is None:
        bad("ethnicity", "is not one of the ethnicity groups this deployment lists "
            "(params.yaml ingest.ethnicity_groups); use one of them, or leave it empty")
    if len(values["device"]) > MAX_DEVICE_CHARS:
        bad("device", f"is longer than {MAX_DEVICE_CHARS} characters")
    if values["source"] and not SOURCE_ID.match(values["source"]):
        bad("source", f"is not a source id: use {SOURCE_RULE}")


def _is_formula(value: str) -> bool:
    """A value a spreadsheet would run if a report were opened in one (CSV injection)."""
    if value[:1] in ("\t", "\r"):
        return True
    text = value.strip()
    if text[:1] in ("=", "+", "@"):
        return True
    return text.startswith("-") and not _NUMBER.match(text)


def _known_diagnosis(code: str) -> bool:
    try:
        resolve_diagnosis(code)
    except UnknownDiagnosisError:
        return False
    return True


def _file_name_problem(file_name: str) -> str | None:
    path = PurePosixPath(file_name)
    if ("\\" in file_name or path.is_absolute() or ".." in path.parts
            or "//" in file_name or file_name.endswith("/")):
        return "must be a relative path inside the batch, with '/' separators and no '..'"
    if unicodedata.normalize("NFC", file_name) != file_name:
        return "is not in Unicode NFC form; save file names in NFC"
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return f"is not an image file name (expected {', '.join(IMAGE_SUFFIXES)})"
    return None


def file_name_problem(name: str) -> str | None:
    """The rule a received file name (a manifest value or a listed key) breaks, if any."""
    if has_unsafe_characters(name):
        return "contains control or invisible characters"
    return _file_name_problem(name)


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
            f"the same file is listed on lines {', '.join(map(str, lines[r.file_name]))}; "
            "list each image once", Reason.DUPLICATE_ROW, r.file_name),))
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

"""A reviewer's decisions on single images, standing over the quality filter's (pure).

The overrides file (params.yaml ``quality.overrides_path``; CSV with a header, or YAML: a list of
mappings) has the columns image_id, decision (accept | reject), reason (a reason code when
rejecting, empty when accepting), reviewer and date (YYYY-MM-DD). An accepted image enters the
curated set whatever the checks, the near-duplicate rule or a label conflict said; a rejected one
leaves it with the reviewer's reason. Overrides act only on images in the raw zone: what ingest
quarantined is resolved by resending, never by review.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from skinrisk.errors import SkinriskError
from skinrisk.reasons import Reason

COLUMNS = ("image_id", "decision", "reason", "reviewer", "date")
_IMAGE_ID = re.compile(r"[0-9a-f]{64}")
# A reviewer's name or staff id: letters, digits and a few separators, nothing that could
# carry a formula, markup or a line break into a report.
_REVIEWER = re.compile(r"[^\W_][\w.@' -]{0,63}")

Verdicts = Mapping[str, Sequence[tuple[Reason, str]]]


class OverridesError(SkinriskError):
    """The overrides file does not validate (the message names the row and the fix)."""


@dataclass(frozen=True)
class Override:
    image_id: str
    decision: Literal["accept", "reject"]
    reason: Reason | None  # set exactly when rejecting
    reviewer: str
    date: str  # YYYY-MM-DD
    row: str  # where it was written, e.g. "overrides.csv line 3"

    @property
    def digest(self) -> str:
        """Identifies the decision itself (not where it sits in the file): the ledger records
        each decision once, however often the stage runs."""
        body = [self.image_id, self.decision, self.reason and self.reason.value, self.reviewer,
                self.date]
        return hashlib.sha256(json.dumps(body).encode()).hexdigest()


def parse_overrides(text: str, fmt: Literal["csv", "yaml"], where: str) -> list[Override]:
    """Every row checked; the first bad one refuses the file, naming the row and the fix."""
    rows = _csv_rows(text, where) if fmt == "csv" else _yaml_rows(text, where)
    overrides: list[Override] = []
    seen: dict[str, str] = {}
    for row, values in rows:
        override = _override(values, row)
        if override.image_id in seen:
            raise OverridesError(f"{row}: image already decided at {seen[override.image_id]}; "
                                 "keep one decision per image")
        seen[override.image_id] = row
        overrides.append(override)
    return overrides


def apply_overrides(verdicts: Verdicts, overrides: Sequence[Override]
                    ) -> dict[str, list[tuple[Reason, str]]]:
    """``verdicts``: image_id -> the filter's failed checks ([] = passed). The same mapping with
    each override's decision in place of the filter's."""
    out = {image_id: list(verdict) for image_id, verdict in verdicts.items()}
    for override in overrides:
        if override.image_id not in out:
            raise OverridesError(
                f"{override.row}: no such image in the raw zone; an override cannot bring back "
                "an image that ingest quarantined (resend it) — check the image_id")
        out[override.image_id] = ([] if override.reason is None else
                                  [(override.reason, f"rejected on review of {override.date}")])
    return out


def _csv_rows(text: str, where: str) -> list[tuple[str, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = reader.fieldnames or []
        _check_columns(header, f"{where} line 1")
        rows = []
        for values in reader:
            row = f"{where} line {reader.line_num}"
            if None in values:  # DictReader files surplus values under None
                raise OverridesError(f"{row}: more values than columns; quote values that "
                                     "hold commas")
            rows.append((row, values))
        return rows
    except csv.Error as exc:
        raise OverridesError(f"{where} line {reader.line_num}: not valid CSV ({exc}); "
                             "quote values that hold commas") from None


def _yaml_rows(text: str, where: str) -> list[tuple[str, dict[str, Any]]]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise OverridesError(f"{where}{line}: not valid YAML; write a list of mappings with "
                             f"the keys {', '.join(COLUMNS)}") from None
    if data is None:
        return []
    if not isinstance(data, list):
        raise OverridesError(f"{where}: the top level must be a list of mappings with the keys "
                             f"{', '.join(COLUMNS)}")
    rows = []
    for number, entry in enumerate(data, start=1):
        row = f"{where} entry {number}"
        if not isinstance(entry, dict):
            raise OverridesError(f"{row}: write a mapping with the keys {', '.join(COLUMNS)}")
        _check_columns([str(k) for k in entry], row)
        rows.append((row, entry))
    return rows


def _check_columns(names: Sequence[str], row: str) -> None:
    missing = [c for c in COLUMNS if c not in names]
    unknown = [c for c in names if c not in COLUMNS]
    if missing or unknown:
        raise OverridesError(f"{row}: columns must be {', '.join(COLUMNS)} (missing: "
                             f"{', '.join(missing) or 'none'}; unknown: "
                             f"{', '.join(unknown) or 'none'})")


def _override(values: dict[str, Any], row: str) -> Override:
    def text(key: str) -> str:
        value = values.get(key)
        if isinstance(value, dt.date):  # YAML reads an unquoted date as a date
            return value.isoformat()
        if value is not None and not isinstance(value, str):
            raise OverridesError(f"{row}: {key} must be text; quote it")
        return (value or "").strip()

    image_id, decision, code = text("image_id"), text("decision"), text("reason")
    reviewer, date = text("reviewer"), text("date")
    if not _IMAGE_ID.fullmatch(image_id):
        raise OverridesError(f"{row}: image_id must be the image's 64 lowercase hex digits "
                             "(as on the review page)")
    if decision not in ("accept", "reject"):
        raise OverridesError(f"{row}: decision must be accept or reject")
    reason = _reason(decision, code, row)
    if not _REVIEWER.fullmatch(reviewer):
        raise OverridesError(f"{row}: reviewer must be a name or staff id of 1-64 letters, "
                             "digits, spaces or . @ ' - _")
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
            raise ValueError(date)
        dt.date.fromisoformat(date)
    except ValueError:
        raise OverridesError(f"{row}: date must be a calendar date written YYYY-MM-DD"
                             ) from None
    return Override(image_id, decision, reason, reviewer, date, row)  # type: ignore[arg-type]


def _reason(decision: str, code: str, row: str) -> Reason | None:
    if decision == "accept":
        if code:
            raise OverridesError(f"{row}: leave reason empty when accepting")
        return None
    try:
        return Reason(code)
    except ValueError:
        raise OverridesError(f"{row}: rejecting needs a reason code from skinrisk/reasons.py "
                             "(e.g. blur, conflicting_label)") from None

"""The columns TFDV validates: the curated manifest's metadata plus the quality scores."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from skinrisk.errors import SkinriskError
from skinrisk.taxonomy import normalise_code

_ROMAN = ("I", "II", "III", "IV", "V", "VI")
CATEGORICAL = ("diagnosis", "grade", "tumor_type", "source", "fitzpatrick_group", "body_site",
               "format")
# The split must follow schema/schema.pbtxt (INT vs FLOAT): an Example feature of the other
# kind is a type anomaly on every row. load_schema checks the two agree.
INTEGER = ("pathology_verified", "width", "height", "bytes")
FLOATING = ("sharpness", "skin_fraction", "dye_fraction", "hair_fraction", "gloss_fraction",
            "dark_fraction", "bright_fraction")
NUMERIC = INTEGER + FLOATING
FEATURES = CATEGORICAL + NUMERIC
SCHEMA_TYPE = {**dict.fromkeys(CATEGORICAL, "BYTES"), **dict.fromkeys(INTEGER, "INT"),
               **dict.fromkeys(FLOATING, "FLOAT")}

Encoded = tuple[str, list[Any]]  # (SCHEMA_TYPE, the feature's one value)


class ExampleValueError(SkinriskError):
    """A numeric feature whose value cannot be stored as its schema type."""


def fitzpatrick_group(value: int | None) -> str:
    return _ROMAN[value - 1] if value else "unknown"


def validation_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One dict per image with exactly FEATURES; codes normalised, booleans as 0/1."""
    out = []
    for row in rows:
        record = {name: row.get(name) for name in FEATURES}
        record["diagnosis"] = normalise_code(str(row["diagnosis"]))
        record["fitzpatrick_group"] = fitzpatrick_group(row.get("fitzpatrick"))
        record["pathology_verified"] = int(bool(row.get("pathology_verified")))
        out.append(record)
    return out


def encode_record(record: dict[str, Any], index: int) -> dict[str, Encoded]:
    """A validation row as typed feature values for one tf.train.Example; None: left out.

    Text is stored as bytes, so no character (newline, quote, NUL, bidi control) can change
    what TFDV reads. ``index`` names the row in errors, which never show the value.
    """
    out: dict[str, Encoded] = {}
    for name in FEATURES:
        value = record.get(name)
        if value is None:
            continue  # absent: TFDV counts it against the feature's presence
        kind = SCHEMA_TYPE[name]
        if kind == "BYTES":
            # surrogatepass: a lone surrogate becomes bytes TFDV flags, not a crash here
            out[name] = (kind, [str(value).encode("utf-8", "surrogatepass")])
        else:
            out[name] = (kind, [_number(value, kind, name, index)])
    return out


def _number(value: Any, kind: str, name: str, index: int) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ExampleValueError(f"row {index}, feature {name}: a {type(value).__name__} where "
                                f"the schema wants {kind}; fix the curated column's type")
    if kind == "FLOAT":
        return float(value)
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise ExampleValueError(f"row {index}, feature {name}: a float that is not a whole "
                                "number (or not finite) where the schema wants INT")
    if not -2**63 <= value < 2**63:
        raise ExampleValueError(f"row {index}, feature {name}: outside the int64 range")
    return int(value)

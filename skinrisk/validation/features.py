"""The columns TFDV validates: the curated manifest's metadata plus the quality scores."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from skinrisk.taxonomy import normalise_code

_ROMAN = ("I", "II", "III", "IV", "V", "VI")
CATEGORICAL = ("diagnosis", "grade", "tumor_type", "source", "fitzpatrick_group", "body_site",
               "format")
NUMERIC = ("pathology_verified", "width", "height", "bytes", "sharpness", "skin_fraction",
           "dye_fraction", "hair_fraction", "gloss_fraction", "dark_fraction",
           "bright_fraction")
FEATURES = CATEGORICAL + NUMERIC


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

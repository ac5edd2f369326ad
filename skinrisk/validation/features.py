"""The columns TFDV validates: the curated manifest's metadata plus the quality scores."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from skinrisk.errors import SkinriskError
from skinrisk.feature_names import FEATURES, SCHEMA_TYPE
from skinrisk.taxonomy import normalise_code

_ROMAN = ("I", "II", "III", "IV", "V", "VI")
_RESOLUTION_BANDS = ((256, "0-255"), (512, "256-511"), (1024, "512-1023"), (2048, "1024-2047"))
Encoded = tuple[str, list[Any]]  # (SCHEMA_TYPE, the feature's one value)
# Features that may be absent and whose drift compares known values only: the share missing is
# reported on its own (a batch with more unknown skin types is not a shift between types).
REPORT_MISSING = ("fitzpatrick_group",)


class ExampleValueError(SkinriskError):
    """A numeric feature whose value cannot be stored as its schema type."""


def fitzpatrick_group(value: int | None) -> str | None:
    """None (the feature absent) when unknown: drift then compares known skin types only, and
    a batch with more missing types is reported as such, not as a shift between types."""
    return _ROMAN[value - 1] if value else None


def resolution_band(short_side: int) -> str:
    """The short side's octave (each band twice the detail of the one below).

    Bands, not pixels: most sources send one or two sizes, and TFDV's numeric drift spreads a
    histogram bucket's count evenly over its width, so a batch of 300 px photos against a
    baseline of 300 px photos plus a few large ones reads as drift (0.3-0.5 on PAD-UFES-20
    halves). Shares of bands compare what matters: is this batch coarser than the last?
    """
    for below, band in _RESOLUTION_BANDS:
        if short_side < below:
            return band
    return "2048+"


def glare_band(gloss_fraction: float) -> str:
    """Whether a photo shows any specular glint: most show none (77% of PAD-UFES-20), so the
    share with glints drifts (a clinic's flash), where the fraction's histogram is all zeros."""
    return "glints" if gloss_fraction > 0 else "none"


def validation_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One dict per image with exactly FEATURES; codes normalised, booleans as 0/1."""
    out = []
    for row in rows:
        record = {name: row.get(name) for name in FEATURES}
        record["diagnosis"] = normalise_code(str(row["diagnosis"]))
        record["fitzpatrick_group"] = fitzpatrick_group(row.get("fitzpatrick"))
        record["pathology_verified"] = int(bool(row.get("pathology_verified")))
        if row.get("width") is not None and row.get("height") is not None:
            record["resolution"] = resolution_band(min(row["width"], row["height"]))
        if row.get("gloss_fraction") is not None:
            record["glare"] = glare_band(row["gloss_fraction"])
        out.append(record)
    return out


def missing_share(rows: list[dict[str, Any]], feature: str) -> tuple[int, float | None]:
    """How many rows lack ``feature``, and their share (None for no rows)."""
    missing = sum(row.get(feature) is None for row in rows)
    return missing, (missing / len(rows) if rows else None)


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

"""Hostile manifests, generated (hypothesis): whatever a sender writes in any column, every row
ends accepted or rejected with a reason, nothing it planted is echoed in a message or detail, and
what is accepted fits the column's rule. The same generator feeds the integration canary run
(tests/integration/test_canary.py)."""

from __future__ import annotations

import csv
import io
import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skinrisk.batch import COLUMN_NAMES, BatchFormatError, read_manifest
from skinrisk.ingest.plan import plan_batch
from skinrisk.storage.landing import FileInfo
from skinrisk.vocabulary import BODY_SITES, ETHNICITY_GROUPS, SOURCE_ID, has_unsafe_characters

pytestmark = pytest.mark.ml  # hypothesis is in the ml environment (reliability: ml only)

EXAMPLES = int(os.environ.get("SKINRISK_FUZZ_EXAMPLES", "400"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                derandomize="SKINRISK_FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
CANARY = "Qx"  # + digits: a planted identifier; unique enough never to occur by accident
GOOD = {"file_name": "images/{n}.jpg", "patient_id": "MRN{n}", "lesion_id": "L{n}",
        "diagnosis": "MEL", "pathology_verified": "true", "body_site": "back",
        "fitzpatrick": "III", "ethnicity": "", "capture_date": "2025-03", "device": "Pixel 7",
        "source": "hospital-a"}
TRICKS = ["\n", "\r", "\r\n", "\x00", "\x07", "\u202e", "\u200b", "\ufeff", "\u2028", '"', "'",
          ",", ";", "\t", "=", "+", "@", "-", " ", "é", "\uff2d", "../", "\\"]


@st.composite
def hostile_value(draw: st.DrawFn, n: int) -> str:
    """A planted identifier dressed up the ways a careless or hostile sender would."""
    canary = f"{CANARY}{n:04d}"
    parts = draw(st.lists(st.sampled_from(TRICKS), max_size=3))
    value = draw(st.sampled_from([
        f"Dr. {canary} MRN 00{n}", canary, f"{canary}'s iPhone", f"=HYPERLINK(\"{canary}\")",
        f"{canary}" * draw(st.integers(1, 60)), f"images/{canary}.jpg"]))
    at = draw(st.integers(0, len(value)))
    return value[:at] + "".join(parts) + value[at:]


@st.composite
def hostile_manifest(draw: st.DrawFn) -> tuple[str, set[str]]:
    rows, planted = [], set()
    for n in range(draw(st.integers(1, 6))):
        row = {k: v.format(n=n) for k, v in GOOD.items()}
        for column in draw(st.lists(st.sampled_from(COLUMN_NAMES), max_size=4, unique=True)):
            row[column] = draw(hostile_value(n))
            planted.add(f"{CANARY}{n:04d}")
        rows.append(row)
    out = io.StringIO(newline="")
    if draw(st.booleans()):  # a real CSV writer: quoting is right, values are not
        writer = csv.DictWriter(out, fieldnames=COLUMN_NAMES, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:  # joined by hand, as a careless export does: quotes and commas break rows
        out.write(",".join(COLUMN_NAMES) + "\n")
        out.writelines(",".join(r[c] for c in COLUMN_NAMES) + "\n" for r in rows)
    return out.getvalue(), planted


def _records(text: str) -> int:
    """Data records as a CSV reader sees them (the count every outcome must add up to)."""
    return sum(1 for fields in csv.reader(io.StringIO(text, newline="")) if fields) - 1


@FUZZ
@given(hostile_manifest())
def test_every_row_ends_somewhere_and_nothing_planted_is_echoed(case: tuple[str, set[str]]
                                                               ) -> None:
    text, planted = case
    try:
        reading = read_manifest(text, "b1/manifest.csv")
    except BatchFormatError as exc:  # the whole batch refused: header or quoting
        assert exc.problems and all(p.line is not None or p.column for p in exc.problems)
        assert not [c for c in planted if c in str(exc)]
        return
    assert len(reading.rows) + len(reading.rejected) == _records(text)
    messages = [str(p) for r in reading.rejected for p in r.problems]
    assert not [c for c in planted if any(c in m for m in messages)]
    present = {r.file_name: FileInfo(10) for r in reading.rows}
    plan = plan_batch(reading, present, 1000)
    assert not [c for c in planted if any(c in r.detail for r in plan.refusals)]
    for row in reading.rows:  # what is accepted fits its column's rule
        assert row.body_site in (*BODY_SITES, None)
        assert row.ethnicity in (*ETHNICITY_GROUPS, None)
        assert SOURCE_ID.match(row.source)
        assert not any(has_unsafe_characters(str(v)) for v in vars(row).values())
        assert not re.match(r"^[=+@\t]", row.device or "")

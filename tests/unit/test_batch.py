import hashlib
import json

import pytest

from skinrisk.batch import (
    COLUMN_NAMES,
    BatchFormatError,
    ManifestRow,
    check_batch_id,
    parse_manifest,
    read_manifest,
    render_manifest,
)
from skinrisk.batch_marker import make_ready_marker, parse_ready_marker, reconcile, verify_batch
from skinrisk.errors import SkinriskError
from skinrisk.reasons import Reason

HEADER = ",".join(COLUMN_NAMES)
GOOD = "images/a.jpg,MRN1,L1,MEL,true,back,II,,2025-03-14,Pixel 7,hospital-a"


def manifest(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def problems_of(text: str) -> list[str]:
    with pytest.raises(BatchFormatError) as raised:
        parse_manifest(text)
    return [str(p) for p in raised.value.problems]


def test_a_good_manifest_parses_into_typed_rows() -> None:
    (row,) = parse_manifest(manifest(GOOD))
    assert row == ManifestRow(line=2, file_name="images/a.jpg", patient_id="MRN1", lesion_id="L1",
                              diagnosis="MEL", pathology_verified=True, body_site="back",
                              fitzpatrick=2, ethnicity=None, capture_date="2025-03-14",
                              device="Pixel 7", source="hospital-a")


def test_render_and_parse_are_inverse() -> None:
    rows = parse_manifest(manifest(GOOD, "images/b.png,MRN2,L9,PAD:SCC,no,,6,asian,2024-11,,h"))
    assert parse_manifest(render_manifest(rows)) == rows


@pytest.mark.parametrize(("value", "expected"), [("I", 1), ("vi", 6), ("3", 3), ("", None)])
def test_fitzpatrick_accepts_arabic_and_roman(value: str, expected: int | None) -> None:
    row = GOOD.replace(",II,", f",{value},")
    assert parse_manifest(manifest(row))[0].fitzpatrick == expected


@pytest.mark.parametrize(("row", "column", "fragment"), [
    (GOOD.replace(",II,", ",VII,"), "fitzpatrick", "not a Fitzpatrick type"),
    (GOOD.replace(",MEL,", ",XYZ,"), "diagnosis", "not a known diagnosis code"),
    (GOOD.replace(",true,", ",maybe,"), "pathology_verified", "not true/false"),
    (GOOD.replace("2025-03-14", "14/03/2025"), "capture_date", "YYYY-MM-DD"),
    (GOOD.replace("images/a.jpg", "../a.jpg"), "file_name", "relative path inside the batch"),
    (GOOD.replace("images/a.jpg", "/etc/a.jpg"), "file_name", "relative path inside the batch"),
    (GOOD.replace("images/a.jpg", "images/a.txt"), "file_name", "not an image file name"),
    (GOOD.replace(",MRN1,", ",,"), "patient_id", "is empty"),
    (GOOD.replace(",hospital-a", ","), "source", "is empty"),
])
def test_a_bad_value_is_refused_naming_line_and_column(row: str, column: str, fragment: str
                                                       ) -> None:
    (problem,) = problems_of(manifest(GOOD.replace("a.jpg", "first.jpg"), row))
    assert f"line 3, column {column!r}" in problem
    assert fragment in problem


def test_every_bad_row_is_reported_not_just_the_first() -> None:
    found = problems_of(manifest(GOOD.replace(",II,", ",9,"),
                                 GOOD.replace("a.jpg", "b.jpg").replace(",MEL,", ",??,")))
    assert [p.split(":")[0] for p in found] == [
        "manifest.csv line 2, column 'fitzpatrick'", "manifest.csv line 3, column 'diagnosis'"]


def test_a_missing_column_is_named() -> None:
    header = HEADER.replace(",fitzpatrick", "")
    (problem,) = problems_of(manifest(GOOD.replace(",II,", ","), header=header))
    assert "line 1, column 'fitzpatrick'" in problem and "missing" in problem


def test_an_unknown_column_is_refused_so_identifiers_cannot_ride_along() -> None:
    found = problems_of(manifest(GOOD + ",Jane Doe", header=HEADER + ",patient_name"))
    assert any("header field 12 (a value of 12 character(s)" in p and "not a column" in p
               for p in found)
    assert not any("patient_name" in p or "Jane" in p for p in found)  # never echoed


def test_a_file_listed_twice_rejects_every_row_naming_it() -> None:
    found = problems_of(manifest(GOOD, GOOD.replace("MRN1", "MRN2")))
    assert [p.split(":")[0] for p in found] == ["manifest.csv line 2, column 'file_name'",
                                                "manifest.csv line 3, column 'file_name'"]
    assert all("listed on lines 2, 3" in p and "a.jpg" not in p for p in found)


@pytest.mark.parametrize(("row", "reason"), [
    (GOOD.replace(",MEL,", ",XYZ,"), Reason.UNKNOWN_DIAGNOSIS),
    (GOOD.replace(",MRN1,", ",,"), Reason.MISSING_REQUIRED),
    (GOOD.replace(",II,", ",VII,"), Reason.BAD_VALUE),
    (GOOD.replace("images/a.jpg", "../a.jpg"), Reason.BAD_FILE_NAME),
    (GOOD.replace("images/a.jpg", "images/a\x00.jpg"), Reason.BAD_FILE_NAME),
    (GOOD.replace("images/a.jpg", "images/a\u202egpj.png"), Reason.BAD_FILE_NAME),  # RTL override
    (GOOD.replace("images/a.jpg", "images/e\u0301.jpg"), Reason.BAD_FILE_NAME),  # not NFC
    (GOOD.replace("Pixel 7", "=cmd|' /C calc'!A0"), Reason.UNSAFE_VALUE),
    (GOOD.replace("back", "@SUM(1+1)"), Reason.UNSAFE_VALUE),
    (GOOD.replace("L1", "-L1"), Reason.UNSAFE_VALUE),
    (GOOD.replace(",XYZ", "") + ",extra", Reason.BAD_VALUE),
])
def test_reading_keeps_good_rows_and_gives_each_bad_row_a_reason(row: str, reason: Reason
                                                                 ) -> None:
    other = GOOD.replace("a.jpg", "ok.jpg")
    reading = read_manifest(manifest(other, row))
    assert [r.file_name for r in reading.rows] == ["images/ok.jpg"]
    (rejected,) = reading.rejected
    assert rejected.line == 3 and rejected.reason is reason


def test_a_negative_number_is_not_a_formula() -> None:
    (row,) = parse_manifest(manifest(GOOD.replace("L1", "-12")))
    assert row.lesion_id == "-12"


def test_a_row_with_extra_fields_is_refused() -> None:
    (problem,) = problems_of(manifest(GOOD + ",surplus"))
    assert "line 2" in problem and "number of fields" in problem


def test_an_empty_manifest_is_refused() -> None:
    assert "is empty" in problems_of("")[0]
    assert "no rows" in problems_of(manifest())[0]


def test_the_error_message_lists_problems_and_says_what_to_do() -> None:
    with pytest.raises(BatchFormatError) as raised:
        parse_manifest(manifest(GOOD.replace(",II,", ",VII,")))
    assert "resend the batch" in str(raised.value)
    assert "line 2, column 'fitzpatrick'" in str(raised.value)


def test_ready_marker_round_trip_and_refusals() -> None:
    data = make_ready_marker(b"abc", 3)
    marker = parse_ready_marker(data)
    assert marker.manifest_sha256 == hashlib.sha256(b"abc").hexdigest()
    assert marker.image_count == 3
    with pytest.raises(BatchFormatError, match="not a valid ready marker"):
        parse_ready_marker(b"")
    with pytest.raises(BatchFormatError, match="format 99 is not supported"):
        parse_ready_marker(json.dumps({**json.loads(data), "format_version": 99}).encode())


def test_verify_batch_reconciles_manifest_marker_and_files() -> None:
    text = manifest(GOOD, GOOD.replace("a.jpg", "b.jpg")).encode()
    marker = make_ready_marker(text, 2)
    assert len(verify_batch(text, marker, ["images/a.jpg", "images/b.jpg", "manifest.csv",
                                           "_READY"])) == 2
    with pytest.raises(BatchFormatError) as raised:
        verify_batch(text, marker, ["images/a.jpg", "images/c.jpg"], where="b1")
    found = [str(p) for p in raised.value.problems]
    assert found == ["b1/manifest.csv line 3, column 'file_name': the file this row lists is "
                     "not in the batch", "b1: a file in the batch is not listed in manifest.csv"]
    # the names are for `batch check --show-values` only
    assert [p.subject for p in raised.value.problems] == ["images/b.jpg", "images/c.jpg"]
    with pytest.raises(BatchFormatError, match=r"does not match manifest\.csv"):
        verify_batch(text + b"x", marker, ["images/a.jpg", "images/b.jpg"])
    with pytest.raises(BatchFormatError, match=r"says 5 images, the manifest lists 2"):
        verify_batch(text, make_ready_marker(text, 5), ["images/a.jpg", "images/b.jpg"])


def test_reconcile_ignores_only_the_manifest_and_marker() -> None:
    rows = parse_manifest(manifest(GOOD))
    assert reconcile(rows, ["images/a.jpg", "manifest.csv", "_READY"]).ok
    assert reconcile(rows, ["images/a.jpg", ".DS_Store"]).extra == (".DS_Store",)


@pytest.mark.parametrize("bad", ["", "-x", "a/b", "a" * 129, "bätch"])
def test_batch_ids_are_safe_folder_and_prefix_names(bad: str) -> None:
    assert check_batch_id("hospital-a_2026.11") == "hospital-a_2026.11"
    with pytest.raises(SkinriskError, match="batch id"):
        check_batch_id(bad)

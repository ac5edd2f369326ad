"""Deciding a batch's fate from manifest and listing, and the patient-id normalisation."""

import pytest

from skinrisk.batch import COLUMN_NAMES, read_manifest
from skinrisk.ingest.arrival import check_arrival
from skinrisk.ingest.plan import plan_batch
from skinrisk.reasons import Reason
from skinrisk.storage.landing import FileInfo
from skinrisk.storage.nofollow import HARD_LINK, SPECIAL, SYMLINK
from skinrisk.surrogates import normalise_source_id

HEADER = ",".join(COLUMN_NAMES)


def row(name: str, patient: str = "MRN1", diagnosis: str = "MEL") -> str:
    return f"{name},{patient},L1,{diagnosis},true,,,,,,h"


def plan(rows: list[str], present: dict[str, int | FileInfo], cap: int = 1000):
    listing = {n: i if isinstance(i, FileInfo) else FileInfo(i) for n, i in present.items()}
    return plan_batch(read_manifest("\n".join([HEADER, *rows])), listing, cap)


def test_every_present_file_is_claimed_exactly_once() -> None:
    p = plan([row("a.jpg"), row("b.jpg", diagnosis="??"), row("c.jpg"), row("c.jpg"),
              row("gone.jpg"), row("big.jpg")],
             {"a.jpg": 10, "b.jpg": 10, "c.jpg": 10, "stray.png": 10, "big.jpg": 5000})
    assert [t.row.file_name for t in p.tasks] == ["a.jpg"]
    outcome = {(r.line, r.file_name): r.reason for r in p.refusals}
    assert outcome == {
        (3, "b.jpg"): Reason.UNKNOWN_DIAGNOSIS,
        (4, "c.jpg"): Reason.DUPLICATE_ROW,  # the first duplicate row keeps the file
        (5, None): Reason.DUPLICATE_ROW,
        (6, None): Reason.MISSING_FILE,
        (7, "big.jpg"): Reason.TOO_LARGE,
        (None, "stray.png"): Reason.NOT_IN_MANIFEST,
    }
    kept = [r.file_name for r in p.refusals if r.file_name] + [t.row.file_name for t in p.tasks]
    assert sorted(kept) == sorted(["a.jpg", "b.jpg", "c.jpg", "stray.png", "big.jpg"])
    assert (p.files_in, p.rows_in) == (5, 6)


def test_refusal_details_never_quote_file_names() -> None:
    p = plan([row("PAT_77_1.jpg", diagnosis="??"), row("PAT_77_1.jpg"), row("../PAT_77_2.jpg")],
             {"PAT_77_1.jpg": 10})
    assert all("PAT_77" not in r.detail for r in p.refusals)


def test_links_and_special_entries_are_refused_unread_listed_or_not() -> None:
    p = plan([row("a.jpg"), row("b.jpg"), row("c.jpg")],
             {"a.jpg": FileInfo(0, kind=SYMLINK, what="symbolic link"),
              "b.jpg": FileInfo(10, kind=HARD_LINK, what="hard link"),
              "c.jpg": 10, "fifo": FileInfo(0, kind=SPECIAL, what="FIFO")})
    assert [t.row.file_name for t in p.tasks] == ["c.jpg"]
    outcome = {(r.line, r.file_name): (r.reason, r.readable) for r in p.refusals}
    assert outcome == {(2, "a.jpg"): (Reason.NOT_REGULAR_FILE, False),
                       (3, "b.jpg"): (Reason.HARD_LINK, False),
                       (None, "fifo"): (Reason.NOT_REGULAR_FILE, False)}
    assert p.files_in == 4


@pytest.mark.parametrize(("a", "b"), [
    ("MRN0012345", "mrn12345"), (" MRN 12345 ", "MRN12345"), ("00042", "42"),
    ("\uff2d\uff32\uff2e\uff11\uff12\uff13", "MRN123"),  # full-width forms
])
def test_patient_ids_that_differ_only_in_form_normalise_alike(a: str, b: str) -> None:
    assert normalise_source_id(a) == normalise_source_id(b)


def test_different_patients_stay_different() -> None:
    assert normalise_source_id("MRN123") != normalise_source_id("MRN1230")
    assert normalise_source_id("0") == "0"


def test_a_marker_without_a_manifest_waits_for_the_manifest() -> None:
    arrival = check_arrival("b1", b"{}", None, {"a.jpg": FileInfo(10)}, ())
    assert arrival.reading is None and "no manifest.csv" in arrival.waiting_for

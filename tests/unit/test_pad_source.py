"""PAD-UFES-20's metadata as published (26 columns, `fitspatrick`) and as the 7-column sample."""

from __future__ import annotations

import csv
import io

import pytest

from skinrisk.batch import BatchFormatError
from skinrisk.sources.pad import pad_rows, select_present
from tests.helpers.pad import PUBLISHED_COLUMNS

PUBLISHED = PUBLISHED_COLUMNS


def published(*rows: dict[str, str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=PUBLISHED, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: "UNK" for c in PUBLISHED} | {"age": "55", "diameter_1": "6.0"} | row)
    return out.getvalue()


def record(img: str, fitz: str = "3.0", **more: str) -> dict[str, str]:
    return {"img_id": img, "patient_id": "PAT_9", "lesion_id": "12", "diagnostic": "BCC",
            "region": "NECK", "biopsed": "True", "fitspatrick": fitz, **more}


def test_the_published_file_is_read_as_it_is() -> None:
    rows = pad_rows(published(record("PAT_9_12_2.png", "3.0"), record("PAT_9_12_1.png", ""),
                              record("PAT_9_12_3.png", "UNK", biopsed="False")))
    assert [r.file_name for r in rows] == ["images/PAT_9_12_1.png", "images/PAT_9_12_2.png",
                                           "images/PAT_9_12_3.png"]
    assert [r.fitzpatrick for r in rows] == [None, 3, None]
    assert [r.pathology_verified for r in rows] == [True, True, False]
    assert rows[0].diagnosis == "PAD:BCC" and rows[0].body_site == "neck"
    assert rows[1].line == 2  # the line in metadata.csv


def test_the_sample_spelling_still_works() -> None:
    sample = ("img_id,patient_id,lesion_id,diagnostic,fitzpatrick,region,biopsed\n"
              "PAT_1_2_3.png,PAT_1,2,NEV,1,FACE,True\n")
    (row,) = pad_rows(sample)
    assert (row.fitzpatrick, row.diagnosis) == (1, "PAD:NEV")


@pytest.mark.parametrize(("text", "says"), [
    ("img_id,patient_id,lesion_id,diagnostic,region,biopsed\n", "fitspatrick"),
    ("img_id,patient_id,diagnostic,fitspatrick,region,biopsed\n", "lesion_id"),
    ("img_id,patient_id,lesion_id,diagnostic,fitzpatrick,fitspatrick,region,biopsed\n",
     "the skin type is given twice"),
])
def test_a_file_that_is_not_pad_metadata_is_refused_naming_the_column(text: str, says: str
                                                                       ) -> None:
    with pytest.raises(BatchFormatError, match=says):
        pad_rows(text, where="metadata.csv")


def test_a_skin_type_out_of_range_names_the_line_not_the_value() -> None:
    with pytest.raises(BatchFormatError, match=r"line 3.*fitspatrick.*not a skin type") as caught:
        pad_rows(published(record("a.png"), record("b.png", "7.5")))
    assert "7.5" not in str(caught.value)


def test_listed_but_absent_images_are_left_out_and_named() -> None:
    rows = pad_rows(published(*(record(f"PAT_9_12_{k}.png") for k in range(6))))
    chosen = select_present(rows, {"PAT_9_12_1.png", "PAT_9_12_4.png", "PAT_9_12_5.png",
                                   "unlisted.png"}, limit=2)
    assert [r.file_name for r in chosen.rows] == ["images/PAT_9_12_1.png",
                                                  "images/PAT_9_12_4.png"]
    assert chosen.absent == ["PAT_9_12_0.png", "PAT_9_12_2.png", "PAT_9_12_3.png"]
    assert select_present(rows, set()).rows == []

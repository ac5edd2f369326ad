"""The quality stage with a conflicting label and a reviewer's overrides, on ingested data."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from pipelines.cli import main
from skinrisk import ledger
from skinrisk.layout import StateLayout
from tests.conftest import REPO, data_dir
from tests.helpers.batches import manifest_row, write_batch

pytestmark = pytest.mark.ml
SMALL = REPO / "params-small.yaml"  # pack.image_size 80: small synthetic photos pass
PARAMS = ["--params", str(SMALL)]
OUTPUTS = ("manifest.parquet", "quality_quarantine.parquet", "quality_report.json")


def rows(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


def with_overrides(tmp_path: Path, lines: list[str]) -> list[str]:
    overrides = tmp_path / "overrides.csv"
    overrides.write_text("image_id,decision,reason,reviewer,date\n" + "".join(
        f"{line}\n" for line in lines))
    params = tmp_path / "params.yaml"
    params.write_text(f"extends: {SMALL}\nquality:\n  overrides_path: {overrides}\n")
    return ["--params", str(params)]


def relabelled_copy(landing: Path, state_home: Path) -> tuple[str, str]:
    """A second batch holding a re-encoded copy (other bytes, same look) of a photo that passed,
    filed as another grade; returns (original id, copy id)."""
    curated = data_dir(state_home) / "curated"
    kept = {r["image_id"]: r for r in rows(curated / "manifest.parquet")}
    by_sha = {r["received_sha256"]: r for r in kept.values()}
    with (landing / "b1" / "manifest.csv").open(newline="") as handle:
        files = [r["file_name"] for r in csv.DictReader(handle)]
    for name in files:
        data = (landing / "b1" / name).read_bytes()
        original = by_sha.get(hashlib.sha256(data).hexdigest())
        if original is not None and original["grade"] != "dangerous":
            break
    else:
        pytest.fail("no accepted, non-dangerous photo in the synthetic batch")
    copy = io.BytesIO()
    Image.open(io.BytesIO(data)).save(copy, "JPEG", quality=80)
    write_batch(landing, "b2", {"copy.jpg": copy.getvalue()},
                [manifest_row("copy.jpg", patient="P-OTHER", diagnosis="MEL")])
    assert main(["ingest", "--landing", str(landing), *PARAMS]) == 0
    (added,) = rows(data_dir(state_home) / "raw" / "b2" / "images.parquet")
    return original["image_id"], added["image_id"]


def test_conflicting_labels_leave_whole_and_overrides_stand_over_the_filter(
        tmp_path: Path, state_home: Path, capsys: pytest.CaptureFixture) -> None:
    landing, curated = tmp_path / "landing", data_dir(state_home) / "curated"
    assert main(["synth", "--out", str(landing / "b1"), "--truth", str(tmp_path / "b1.csv"),
                 "--size", "160x120", "--images", "30", "--seed", "4", "--defect", "blur=0.3",
                 *PARAMS]) == 0
    assert main(["ingest", "--landing", str(landing), *PARAMS]) == 0
    assert main(["quality", *PARAMS]) == 0
    original, copy = relabelled_copy(landing, state_home)

    # Same photo, two grades: every member of the group leaves, for a person to resolve.
    assert main(["quality", *PARAMS]) == 0
    quarantined = {q["image_id"]: q for q in rows(curated / "quality_quarantine.parquet")}
    conflicted = {i for i, q in quarantined.items() if "conflicting_label" in q["reasons"]}
    assert {original, copy} <= conflicted
    assert quarantined[copy]["dup_group"] == quarantined[original]["dup_group"]
    assert "malignant_melanoma" in quarantined[copy]["detail"]
    page = (curated / "review" / "conflicting_label.html").read_text()
    assert original in page and copy in page and "data:image/jpeg;base64," in page
    blurred = next(i for i, q in quarantined.items() if q["reasons"] == "blur")
    plain = {name: (curated / name).read_bytes() for name in OUTPUTS}

    # The reviewer rejects the wrong label and accepts a blurred photo.
    reviewed = with_overrides(tmp_path, [f"{copy},reject,conflicting_label,Dr. Ana,2025-03-01",
                                         f"{blurred},accept,,Dr. Ana,2025-03-01"])
    assert main(["quality", *reviewed]) == 0
    accepted = {r["image_id"] for r in rows(curated / "manifest.parquet")}
    quarantined = {q["image_id"]: q for q in rows(curated / "quality_quarantine.parquet")}
    assert {original, blurred} <= accepted and copy not in accepted
    assert quarantined[copy]["reasons"] == "conflicting_label"
    assert quarantined[copy]["detail"] == "rejected on review of 2025-03-01"
    report = json.loads((curated / "quality_report.json").read_text())
    assert report["overrides"]["accepted"] == 1 == report["overrides"]["rejected"]
    assert main(["quality", *reviewed]) == 0  # a rerun records no decision twice
    events = [e["data"] for e in ledger.entries(ledger.ledger_path(StateLayout(state_home)))
              if e["event"] == "quality_override"]
    assert sorted((e["image_id"], e["decision"], e["filter_reasons"]) for e in events) == sorted(
        [(copy, "reject", "conflicting_label"), (blurred, "accept", "blur")])

    # Without the overrides file the outputs are byte for byte those of before.
    assert main(["quality", *PARAMS]) == 0
    assert {name: (curated / name).read_bytes() for name in OUTPUTS} == plain
    assert "overrides" not in plain["quality_report.json"].decode()

    # A bad row, and an image that never reached the raw zone, are refused naming the row.
    capsys.readouterr()
    assert main(["quality", *with_overrides(tmp_path, [f"{copy},reject,,ana,2025-03-01"])]) == 1
    assert "overrides.csv line 2: rejecting needs a reason code" in capsys.readouterr().err
    assert main(["quality", *with_overrides(tmp_path, [f"{'0' * 64},accept,,ana,2025-03-01"])]
                ) == 1
    assert "line 2: no such image in the raw zone" in capsys.readouterr().err

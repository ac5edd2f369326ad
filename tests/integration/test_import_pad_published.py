"""`skinrisk import-pad` on PAD-UFES-20's metadata as published: 26 columns, `fitspatrick`,
and rows for images the folder does not hold."""

from __future__ import annotations

import csv
import hashlib
import shutil
from pathlib import Path

import pytest

from pipelines.cli import main
from skinrisk.batch import parse_manifest
from tests.conftest import REPO
from tests.helpers.pad import PUBLISHED_COLUMNS as PUBLISHED

PARAMS = ["--params", str(REPO / "params.yaml")]


def published_copy(pad_dir: Path, folder: Path, present: int, absent: int) -> list[str]:
    """A published-style PAD folder: ``present`` of the sample's photos, and metadata listing
    them plus ``absent`` photos it does not hold; returns the absent names."""
    with (pad_dir / "metadata.csv").open(newline="") as handle:
        sample = list(csv.DictReader(handle))[:present]
    (folder / "images").mkdir(parents=True)
    rows = []
    for record in sample:
        shutil.copy(pad_dir / "images" / record["img_id"], folder / "images")
        rows.append(record)
    missing = [f"PAT_9{k}_1{k}_5{k}.png" for k in range(absent)]
    rows += [{**sample[0], "img_id": name} for name in missing]
    with (folder / "metadata.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=PUBLISHED, lineterminator="\n")
        writer.writeheader()
        for r in rows:
            skin = f"{float(r['fitzpatrick']):.1f}" if r["fitzpatrick"] else ""
            writer.writerow({c: "" for c in PUBLISHED} | {
                "patient_id": r["patient_id"], "lesion_id": r["lesion_id"], "smoke": "False",
                "age": "63", "gender": "FEMALE", "fitspatrick": skin, "region": r["region"],
                "diameter_1": "8.0", "diagnostic": r["diagnostic"], "itch": "UNK",
                "img_id": r["img_id"], "biopsed": r["biopsed"]})
    return missing


def test_the_published_metadata_with_absent_images_makes_a_batch_of_the_present_ones(
        tmp_path: Path, pad_dir: Path, capsys: pytest.CaptureFixture) -> None:
    source, out = tmp_path / "pad", tmp_path / "landing" / "pad"
    missing = published_copy(pad_dir, source, present=4, absent=7)
    assert main(["import-pad", "--source", str(source), "--out", str(out), *PARAMS]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert "7 of 11 images listed in" in printed and "and 2 more" in printed
    assert sum(name in printed for name in missing) == 5  # a few named, the rest counted
    rows = parse_manifest((out / "manifest.csv").read_text())
    assert len(rows) == 4 and all(r.fitzpatrick is None or 1 <= r.fitzpatrick <= 6 for r in rows)
    for row in rows:
        assert (hashlib.sha256((out / row.file_name).read_bytes()).digest()
                == hashlib.sha256((source / row.file_name).read_bytes()).digest())
    assert "FEMALE" not in (out / "manifest.csv").read_text()  # other columns stay behind
    assert main(["batch", "check", str(out)]) == 0
    assert main(["ingest", "--landing", str(out.parent), *PARAMS]) == 0


def test_a_folder_holding_none_of_the_listed_images_is_refused(
        tmp_path: Path, pad_dir: Path, capsys: pytest.CaptureFixture) -> None:
    source = tmp_path / "pad"
    published_copy(pad_dir, source, present=2, absent=1)
    for image in (source / "images").iterdir():
        image.unlink()
    assert main(["import-pad", "--source", str(source), "--out", str(tmp_path / "x"),
                 *PARAMS]) == 1
    assert "none of the 3 images listed" in capsys.readouterr().err
    assert not (tmp_path / "x" / "_READY").exists()

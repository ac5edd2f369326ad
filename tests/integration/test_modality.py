"""Modality end to end: a dermoscopic photo from a clinical hospital is quarantined, a source
declared dermoscopic is not held to looking clinical, and the split keeps it out of training."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from PIL import Image

from pipelines.cli import main
from skinrisk.synth.dermoscopy import render_dermoscopy
from tests.conftest import REPO, data_dir
from tests.helpers.batches import manifest_row, write_batch

pytestmark = pytest.mark.ml


def dermoscopic(seed: int) -> bytes:
    out = io.BytesIO()
    Image.fromarray(render_dermoscopy(seed, (640, 480))).save(out, "JPEG", quality=92)
    return out.getvalue()


def test_declared_modalities_from_quality_to_split(tmp_path: Path, state_home: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"extends": str(REPO / "params-small.yaml"),
                                      "split": {"source_modality": {"hospital-b": "dermoscopy"}}}))
    use = ["--params", str(params)]
    landing = tmp_path / "landing"
    assert main(["synth", "--out", str(landing / "b1"), "--truth", str(tmp_path / "b1.csv"),
                 "--images", "40", "--seed", "5", *use]) == 0
    only_a = tmp_path / "only-a.yaml"
    only_a.write_text(yaml.safe_dump({"extends": str(params),
                                      "synth": {"sources": ["hospital-a"]}}))
    assert main(["synth", "--out", str(tmp_path / "src"), "--truth", str(tmp_path / "src.csv"),
                 "--images", "6", "--seed", "6", "--params", str(only_a)]) == 0
    clinical = sorted((tmp_path / "src").rglob("*.jpg"))
    files = {f"c{k}.jpg": p.read_bytes() for k, p in enumerate(clinical)}
    files |= {f"d{k}.jpg": dermoscopic(k) for k in range(5)}
    sources = {**dict.fromkeys(("d0.jpg", "d1.jpg"), "hospital-a"),
               **dict.fromkeys(("d2.jpg", "d3.jpg", "d4.jpg"), "hospital-b")}
    rows = [manifest_row(name, patient=f"MRN-{k}", source=sources.get(name, "hospital-a"))
            for k, name in enumerate(files)]
    write_batch(landing, "d1", files, rows)
    assert main(["ingest", "--landing", str(landing), *use]) == 0
    assert main(["quality", *use]) == 0

    curated = data_dir(state_home) / "curated"
    report = json.loads((curated / "quality_report.json").read_text())
    assert report["expectations"] == {"min_side_px": 100, "non_clinical_sources": ["hospital-b"]}
    images = pq.read_table(data_dir(state_home) / "raw" / "d1" / "images.parquet").to_pylist()
    source_of = {r["image_id"]: r["source"] for r in images}
    flagged = {q["image_id"] for q in pq.read_table(curated / "quality_quarantine.parquet")
               .to_pylist() if "not_clinical_photo" in q["reasons"].split(";")}
    # Both dermoscopic photos sent as clinical, and only they (hospital-b's are declared).
    assert len(flagged) == 2 and {source_of[i] for i in flagged} == {"hospital-a"}

    assert main(["validate", *use]) == 0
    capsys.readouterr()
    assert main(["split", *use]) == 0
    said = capsys.readouterr().out
    summary = json.loads((data_dir(state_home) / "splits" / "summary.json").read_text())
    assignments = pq.read_table(data_dir(state_home) / "splits" / "assignments.parquet")
    other = [r for r in assignments.to_pylist() if r["source"] == "hospital-b"]
    assert other and {r["split"] for r in other} == {"other_modality"}
    assert summary["left_out_by_modality"] == {"dermoscopy": len(other)}
    assert summary["images"]["cross_ethnic"] == 0  # hospital-b is cross-ethnic, but not clinical
    assert f"left out of train (and every test set) {len(other)} image(s) of modality " \
           "dermoscopy" in " ".join(said.split())

"""The quality and validate stages on real ingested data: files, Parquet, TFDV on Beam."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from pipelines.cli import main
from skinrisk.config import ValidateParams
from skinrisk.validation.report import render_report
from skinrisk.validation.tfdv_check import validate_rows
from tests.conftest import REPO, data_dir

pytestmark = pytest.mark.ml
# The demo profile: pack.image_size 80, so 160x120 synthetic photos clear the resolution floor
# (params.yaml's is 299, the paper's input size).
PARAMS = ["--params", str(REPO / "params-small.yaml")]
SCHEMA = REPO / "schema" / "schema.pbtxt"


def synth(landing: Path, batch: str, *args: str) -> None:
    assert main(["synth", "--out", str(landing / batch), "--truth",
                 str(landing.parent / f"{batch}.csv"), "--size", "160x120", *PARAMS,
                 *args]) == 0


def rows(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


def test_quality_reconciles_caches_and_keeps_near_duplicates_together(
        tmp_path: Path, state_home: Path, capsys: pytest.CaptureFixture) -> None:
    from skinrisk.taxonomy import OOD_TYPES, TUMOR_TYPES

    landing = tmp_path / "landing"
    with_ood = tmp_path / "with-ood.yaml"  # types outside training carry a diagnosis flag
    with_ood.write_text(f"extends: {REPO / 'params-small.yaml'}\nsynth:\n  tumor_types: "
                        f"{[t.key for t in TUMOR_TYPES + OOD_TYPES]}\n")
    assert main(["synth", "--out", str(landing / "b1"), "--truth", str(tmp_path / "b1.csv"),
                 "--size", "160x120", "--params", str(with_ood), "--images", "60", "--seed",
                 "1", "--defect", "duplicate=0.15", "--defect", "blur=0.1", "--defect",
                 "tiny_lesion=0.1"]) == 0
    assert main(["ingest", "--landing", str(landing), *PARAMS]) == 0
    assert main(["quality", *PARAMS]) == 0
    curated = data_dir(state_home) / "curated"
    accepted, quarantined = rows(curated / "manifest.parquet"), rows(
        curated / "quality_quarantine.parquet")
    ingested = rows(data_dir(state_home) / "raw" / "b1" / "images.parquet")
    assert len(accepted) + len(quarantined) == len(ingested)
    assert {r["image_id"] for r in accepted} | {r["image_id"] for r in quarantined} == {
        r["image_id"] for r in ingested}
    reasons = {r for q in quarantined for r in q["reasons"].split(";")}
    assert {"blur", "near_duplicate"} <= reasons
    # background_dominant flags (quality.actions): those photos stay, named in the manifest.
    flagged = {r["image_id"] for r in accepted
               if "background_dominant" in r["quality_flags"].split(";")}
    assert flagged and "background_dominant" not in reasons
    # The quality flags sit beside the diagnosis flags, never over them: out-of-distribution
    # types must still reach the split's OOD set.
    diagnosis_flags = {r["image_id"]: r["flags"] for r in ingested}
    assert any("out-of-distribution" in diagnosis_flags[r["image_id"]] for r in accepted)
    assert all(r["flags"] == diagnosis_flags[r["image_id"]] for r in accepted)
    # A near-duplicate shares its group with the photo it repeats: the split keeps them together.
    groups = {r["dup_group"] for r in accepted}
    assert all(q["near_duplicate_of"] in groups for q in quarantined if q["near_duplicate_of"])
    assert (curated / "contact_sheets" / "blur.png").is_file()
    report = json.loads((curated / "quality_report.json").read_text())
    assert report["images_in"] == len(ingested) == report["accepted"] + report["quarantined"]
    printed = capsys.readouterr().out
    assert f"({len(ingested)} scored this run)" in printed, printed

    # A rerun decodes nothing; a grown dataset decodes only the new images.
    assert main(["quality", *PARAMS]) == 0
    assert "(0 scored this run)" in capsys.readouterr().out
    # Scores made by other scoring code (a check changed since) are never reused.
    scores_path = state_home / "cache" / "quality_scores.parquet"
    table = pq.read_table(scores_path)
    pq.write_table(table.replace_schema_metadata(
        {**table.schema.metadata, b"skinrisk.checks_version": b"older-code"}), scores_path)
    assert main(["quality", *PARAMS]) == 0
    assert f"({len(ingested)} scored this run)" in capsys.readouterr().out
    synth(landing, "b2", "--images", "12", "--seed", "2")
    assert main(["ingest", "--landing", str(landing), *PARAMS]) == 0
    capsys.readouterr()
    assert main(["quality", *PARAMS]) == 0
    assert "(12 scored this run)" in capsys.readouterr().out

    # The caches only save work: without the verdict and near-duplicate caches the same bytes
    # are written, and a changed threshold re-judges every image from the cached scores.
    outputs = ("manifest.parquet", "quality_quarantine.parquet")
    incremental = {name: (curated / name).read_bytes() for name in outputs}
    cache = state_home / "cache"
    for name in ("quality_judged.parquet", "near_duplicates.npz"):
        (cache / name).unlink()
    assert main(["quality", *PARAMS]) == 0
    assert {name: (curated / name).read_bytes() for name in outputs} == incremental
    rejecting = tmp_path / "rejecting.yaml"
    rejecting.write_text(f"extends: {REPO / 'params-small.yaml'}\n"
                         "quality: {actions: {background_dominant: reject}}\n")
    capsys.readouterr()
    assert main(["quality", "--params", str(rejecting)]) == 0
    assert "(0 scored this run)" in capsys.readouterr().out  # an action never re-scores
    moved = {q["image_id"] for q in rows(curated / "quality_quarantine.parquet")
             if "background_dominant" in q["reasons"].split(";")}
    assert moved >= flagged
    assert main(["quality", *PARAMS]) == 0
    strict = tmp_path / "strict.yaml"
    strict.write_text(f"extends: {REPO / 'params-small.yaml'}\n"
                      "quality: {min_sharpness: 1.0e+12}\n")
    assert main(["quality", "--params", str(strict)]) == 0
    assert "(0 scored this run)" in capsys.readouterr().out
    assert rows(curated / "manifest.parquet") == []
    assert all("blur" in q["reasons"] for q in rows(curated / "quality_quarantine.parquet"))


def _row(**overrides) -> dict:
    row = {"diagnosis": "MEL", "grade": "dangerous", "tumor_type": "malignant_melanoma",
           "source": "hospital-a", "fitzpatrick_group": "III", "body_site": "back",
           "format": "jpeg", "pathology_verified": 1, "width": 640, "height": 480,
           "bytes": 50_000, "sharpness": 30.0, "skin_fraction": 0.9, "dye_fraction": 0.0,
           "hair_fraction": 0.0, "gloss_fraction": 0.0, "dark_fraction": 0.0,
           "bright_fraction": 0.0, "brightness": 0.6, "saturation": 0.3, "redness": 0.56,
           "resolution": "256-511", "glare": "none"}
    return {**row, **overrides}


def _mixed(n: int, shift: bool = False) -> list[dict]:
    grades = [("MEL", "dangerous", "malignant_melanoma"), ("BCC", "high-risk",
              "basal_cell_carcinoma"), ("SK", "low-risk", "seborrheic_keratosis")]
    out = []
    for i in range(n):
        code, grade, kind = grades[0] if shift else grades[i % 3]
        fitz = "VI" if shift else ["I", "II", "III", "IV", "V", "VI"][i % 6]
        out.append(_row(diagnosis=code, grade=grade, tumor_type=kind, fitzpatrick_group=fitz,
                        width=600 + i % 50))
    return out


def test_tfdv_flags_an_unknown_diagnosis_and_an_out_of_range_size(tmp_path: Path) -> None:
    batch = [*_mixed(30), _row(diagnosis="WART"), _row(width=50_000)]
    verdict = validate_rows("b", batch, [], SCHEMA, ValidateParams(), tmp_path / "v")
    schema_findings = {f.feature for f in verdict.findings if f.kind == "schema"}
    assert {"diagnosis", "width"} <= schema_findings
    assert verdict.status == "failed"
    assert verdict.drift == [] and verdict.baseline_rows == 0  # first batch: no baseline
    assert (tmp_path / "v" / "statistics.tfrecord").is_file()
    assert (tmp_path / "v" / "anomalies.pbtxt").is_file()


def test_drift_is_found_on_a_shifted_batch_and_not_on_a_similar_one(tmp_path: Path) -> None:
    baseline = _mixed(120)
    similar = validate_rows("s", _mixed(60), baseline, SCHEMA, ValidateParams(), tmp_path / "s")
    assert similar.status == "passed"
    assert all(d.value <= d.threshold for d in similar.drift)
    shifted = validate_rows("d", _mixed(60, shift=True), baseline, SCHEMA, ValidateParams(),
                            tmp_path / "d")
    above = {d.feature for d in shifted.drift if d.value > d.threshold}
    assert {"grade", "fitzpatrick_group", "tumor_type"} <= above
    assert shifted.status == "warned"  # params: drift warns, schema anomalies fail
    strict = ValidateParams(on_drift="fail")
    assert validate_rows("d", _mixed(60, shift=True), baseline, SCHEMA, strict,
                         tmp_path / "d2").status == "failed"
    assert shifted.slices["fitzpatrick_group_VI"] == 60


def _photos(n: int, seed: int, shift: bool = False) -> list[dict]:
    """Rows whose image figures vary like real photos; ``shift``: a darker, softer, bluer batch
    of small photos taken with a flash (a new clinic's camera)."""
    rng = np.random.default_rng(seed)
    rows = []
    for row in _mixed(n):
        rows.append({**row,
                     "brightness": float(rng.normal(0.42 if shift else 0.6, 0.05)),
                     "saturation": float(rng.normal(0.3, 0.04)),
                     "redness": float(rng.normal(0.53 if shift else 0.56, 0.01)),
                     "sharpness": float(rng.lognormal(np.log(8 if shift else 30), 0.4)),
                     "resolution": "0-255" if shift else str(rng.choice(
                         ["256-511", "512-1023"], p=[0.8, 0.2])),
                     "glare": "glints" if rng.random() < (0.8 if shift else 0.2) else "none"})
    return rows


def test_image_drift_is_found_on_a_new_cameras_batch_and_not_on_a_similar_one(
        tmp_path: Path) -> None:
    baseline = _photos(150, seed=1)
    similar = validate_rows("s", _photos(60, seed=2), baseline, SCHEMA, ValidateParams(),
                            tmp_path / "s")
    assert similar.status == "passed", [d for d in similar.drift if d.value > d.threshold]
    measured = {d.feature for d in similar.drift}
    assert {"sharpness", "brightness", "saturation", "redness", "resolution", "glare"} <= measured
    shifted = validate_rows("d", _photos(60, seed=3, shift=True), baseline, SCHEMA,
                            ValidateParams(), tmp_path / "d")
    above = {d.feature for d in shifted.drift if d.value > d.threshold}
    assert {"sharpness", "brightness", "resolution", "glare"} <= above
    assert "saturation" not in above  # unchanged in the shifted batch
    assert shifted.status == "warned"  # the same policy as metadata drift: on_drift
    assert validate_rows("d", _photos(60, seed=3, shift=True), baseline, SCHEMA,
                         ValidateParams(on_drift="fail"), tmp_path / "d2").status == "failed"


def test_missing_skin_types_are_reported_on_their_own_not_as_drift(tmp_path: Path) -> None:
    baseline = _mixed(120)
    batch = _mixed(60)
    for row in batch[::5] + batch[1::5]:  # 40% unknown, the known ones as in the baseline
        row["fitzpatrick_group"] = None
    verdict = validate_rows("m", batch, baseline, SCHEMA, ValidateParams(), tmp_path / "m")
    fitz = [d for d in verdict.drift if d.feature == "fitzpatrick_group"]
    assert fitz and fitz[0].value <= fitz[0].threshold
    [missing] = [f for f in verdict.findings if f.kind == "missing"]
    assert missing.feature == "fitzpatrick_group"
    assert "missing in 24 of 60 images (40.0%; baseline 0.0%)" in missing.description
    assert verdict.status == "passed"  # a share to read, not a verdict
    report = render_report(verdict, {}, {})
    assert "- fitzpatrick_group: missing in 24 of 60" in report
    assert "| fitzpatrick_group | missing |" not in report  # not listed as an anomaly


def test_validate_command_reports_each_batch_once(tmp_path: Path, state_home: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    landing = tmp_path / "landing"
    synth(landing, "b1", "--images", "30", "--seed", "3")
    assert main(["ingest", "--landing", str(landing), *PARAMS]) == 0
    assert main(["quality", *PARAMS]) == 0
    assert main(["validate", *PARAMS]) == 0
    report = (data_dir(state_home) / "curated" / "validation" / "b1" / "report.md").read_text()
    assert "**passed**" in report and "no baseline" in report
    assert "source_hospital-a" in report
    capsys.readouterr()
    assert main(["validate", *PARAMS]) == 0
    assert "0 batch(es) this run" in capsys.readouterr().out


def test_a_batch_from_an_unregistered_source_fails_validation(tmp_path: Path, state_home: Path,
                                                              capsys: pytest.CaptureFixture
                                                              ) -> None:
    landing = tmp_path / "landing"
    params = tmp_path / "params.yaml"
    params.write_text((REPO / "params.yaml").read_text().replace(
        "sources: [hospital-a, hospital-b]", "sources: [hospital-zz]"))
    assert main(["synth", "--out", str(landing / "new"), "--truth", str(tmp_path / "t.csv"),
                 "--size", "160x120", "--images", "20", "--params", str(params)]) == 0
    assert main(["ingest", "--landing", str(landing), *PARAMS]) == 0
    assert main(["quality", *PARAMS]) == 0
    assert main(["validate", *PARAMS]) == 1
    report = (data_dir(state_home) / "curated" / "validation" / "new" / "report.md").read_text()
    assert "**failed**" in report
    assert "| source | schema | ENUM_TYPE_UNEXPECTED_STRING_VALUES" in report
    assert "hospital-zz" not in report  # the source id the batch sent is not quoted back

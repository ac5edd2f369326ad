"""Validate on hostile values and failing statistics: real TFDV on Beam, no mocks.

Every planted value carries the token PLANT, so one search shows it was not echoed.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.cli import main
from skinrisk import ledger
from skinrisk.config import ValidateParams
from skinrisk.errors import SkinriskError
from skinrisk.feature_names import CATEGORICAL
from skinrisk.layout import StateLayout
from skinrisk.validation.report import render_report
from skinrisk.validation.tfdv_check import ANOMALIES, STATISTICS, validate_rows
from tests.conftest import data_dir
from tests.integration.test_quality_validate import PARAMS, SCHEMA, _mixed, _row, synth

pytestmark = pytest.mark.ml
HOSTILE = ("left\nPLANT forearm", "PLANT\r\nback", 'PLANT "quoted" \'twice\'', "PLANT, Smith",
           "PLANT\x00nul", "\u202ePLANT evil", "PLANT\u200bzero", "PLANT" + "x" * 20_000,
           "=cmd|'/C calc'!A0 PLANT", "PLANT\ud800surrogate", "PLANT\tTab\\")


def _hostile_rows() -> list[dict]:
    return [_row(**dict.fromkeys(CATEGORICAL, value)) for value in HOSTILE]


def _published(folder: Path) -> str:
    """What validate writes for people and the audit, statistics aside (TFDV's value counts)."""
    return "".join(p.read_text(errors="replace") for p in sorted(folder.rglob("*"))
                   if p.is_file() and p.name != STATISTICS)


def test_hostile_values_in_every_text_column_get_a_verdict_and_are_not_echoed(
        tmp_path: Path) -> None:
    batch = [*_mixed(30), *_hostile_rows()]
    verdict = validate_rows("hostile", batch, _mixed(60), SCHEMA, ValidateParams(),
                            tmp_path / "v")
    assert verdict.rows == len(batch) and verdict.status == "failed"
    # Each column with a domain is flagged (the lone surrogate as ENUM_TYPE_INVALID_UTF8).
    flagged = {f.feature for f in verdict.findings if f.kind == "schema"}
    assert set(CATEGORICAL) - {"body_site"} <= flagged
    assert verdict.slices["All Examples"] == len(batch)
    assert (tmp_path / "v" / STATISTICS).is_file() and (tmp_path / "v" / ANOMALIES).is_file()
    (tmp_path / "v" / "report.md").write_text(render_report(verdict, {}, {}))
    (tmp_path / "v" / "verdict.json").write_text(json.dumps(asdict(verdict)))
    assert "PLANT" not in _published(tmp_path / "v")
    # In the baseline too: earlier batches' values are not quoted by the drift check either.
    again = validate_rows("next", _mixed(30), batch, SCHEMA, ValidateParams(), tmp_path / "w")
    assert again.baseline_rows == len(batch) and again.drift
    assert "PLANT" not in json.dumps(asdict(again)) + _published(tmp_path / "w")
    assert not list(tmp_path.rglob("beam-temp-*"))


def test_failing_statistics_fail_that_batch_only_naming_it_and_the_error_type(
        tmp_path: Path) -> None:
    out = tmp_path / "broken"
    (out / "beam-temp-statistics.tfrecord-0").mkdir(parents=True)  # a crashed run's leftover
    (out / STATISTICS).write_bytes(b"an earlier run's")
    broken = [*_mixed(10), _row(width="PLANT 640")]  # no INT feature can store it
    verdict = validate_rows("broken", broken, [], SCHEMA, ValidateParams(), out)
    assert verdict.status == "failed" and verdict.rows == len(broken)
    [finding] = verdict.findings
    assert finding.kind == "error" and "broken" in finding.description
    assert "ExampleValueError" in finding.description and "PLANT" not in finding.description
    assert "\n" not in finding.description
    assert not list(out.iterdir())  # neither Beam's temporaries nor stale TFDV files
    # Beam itself failing (an unknown runner) is the batch's failure too, named by type.
    params = ValidateParams(beam_args=("--runner=NoSuchRunnerPLANT",))
    beam = validate_rows("beam", _mixed(10), [], SCHEMA, params, tmp_path / "beam")
    assert beam.status == "failed" and beam.findings[0].kind == "error"
    assert beam.findings[0].description.startswith("batch beam: statistics could not be")
    assert "PLANT" not in beam.findings[0].description
    # A baseline that fails fails the batch, with its own reason, not an exception.
    based = validate_rows("based", _mixed(10), broken, SCHEMA, ValidateParams(),
                          tmp_path / "based")
    assert based.status == "failed"
    assert "baseline statistics could not be computed" in based.findings[0].description
    # The next batch is validated as usual.
    assert validate_rows("fine", _mixed(30), [], SCHEMA, ValidateParams(),
                         tmp_path / "fine").status == "passed"
    assert not list(tmp_path.rglob("beam-temp-*"))


def _plant(curated: Path, hostile: str, broken: str) -> None:
    """Hostile text in every text column of one batch; a NaN width (float column) in another."""
    manifest = curated / "manifest.parquet"
    rows = pq.read_table(manifest).to_pylist()
    text = ("diagnosis", "grade", "tumor_type", "source", "body_site", "format")
    values = [v for v in HOSTILE if "\ud800" not in v]  # Parquet holds only valid UTF-8
    for i, row in enumerate(r for r in rows if r["batch_id"] == hostile):
        row.update(dict.fromkeys(text, values[i % len(values)]))
    for row in rows:
        row["width"] = float("nan") if row["batch_id"] == broken else float(row["width"])
    pq.write_table(pa.Table.from_pylist(rows), manifest)


def test_validate_command_gives_every_batch_a_verdict_despite_hostile_and_broken_ones(
        tmp_path: Path, state_home: Path, capsys: pytest.CaptureFixture) -> None:
    landing = tmp_path / "landing"
    for seed, batch in enumerate(("b1", "b2", "b3", "b4"), start=1):
        synth(landing, batch, "--images", "16", "--seed", str(seed))
        assert main(["ingest", "--landing", str(landing), *PARAMS]) == 0
    assert main(["quality", *PARAMS]) == 0
    curated = data_dir(state_home) / "curated"
    _plant(curated, hostile="b2", broken="b3")
    capsys.readouterr()
    assert main(["validate", *PARAMS]) == 1
    printed = capsys.readouterr().out
    root = curated / "validation"
    verdicts = {b: json.loads((root / b / "verdict.json").read_text()) for b in
                ("b1", "b2", "b3", "b4")}
    assert {b: v["status"] for b, v in verdicts.items()} == {
        "b1": "passed", "b2": "failed", "b3": "failed", "b4": verdicts["b4"]["status"]}
    assert verdicts["b4"]["status"] != "failed" and verdicts["b4"]["baseline_rows"] > 0
    assert "diagnosis" in {f["feature"] for f in verdicts["b2"]["findings"] if f["description"]
                           .startswith("ENUM_TYPE_UNEXPECTED_STRING_VALUES")}
    [error] = verdicts["b3"]["findings"]
    assert error["kind"] == "error" and "batch b3" in error["description"]
    assert "batch b3: statistics could not be computed" in printed
    events = [e["data"] for e in ledger.entries(ledger.ledger_path(StateLayout.from_env()))
              if e["event"] == "validation"]
    assert [e["batch_id"] for e in events] == ["b1", "b2", "b3", "b4"]
    assert events[2]["errors"] == 1
    ledger_text = ledger.ledger_path(StateLayout.from_env()).read_text()
    assert "PLANT" not in _published(root) + printed + ledger_text
    assert not list(state_home.rglob("beam-temp-*"))
    # Another batch can be validated again: the hostile rows no longer stop every run.
    assert main(["validate", "--batch", "b1", *PARAMS]) == 0


def test_a_schema_or_slice_that_would_misread_or_echo_values_is_refused(tmp_path: Path) -> None:
    floats = tmp_path / "schema.pbtxt"  # width as FLOAT: every INT Example a type anomaly
    floats.write_text(SCHEMA.read_text().replace(
        'name: "width"\n  type: INT\n  int_domain {\n    min: 100\n    max: 20000\n  }',
        'name: "width"\n  type: FLOAT'))
    with pytest.raises(SkinriskError, match="feature width is FLOAT, but validate writes it as"):
        validate_rows("b", _mixed(3), [], floats, ValidateParams(), tmp_path / "a")
    free_text = ValidateParams(slice_by=("body_site",))  # slices named after hospital text
    with pytest.raises(SkinriskError, match="slice_by names body_site, which has no string_"):
        validate_rows("b", _mixed(3), [], SCHEMA, free_text, tmp_path / "b")

"""No source patient id leaves ingest: not in the raw zone, quarantine, reports or logs."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import pytest

from pipelines.cli import main
from tests.conftest import REPO
from tests.helpers.privacy import searchable

PARAMS = ["--params", str(REPO / "params.yaml")]


def test_no_source_patient_id_appears_in_any_output(tmp_path: Path, state_home: Path,
                                                    pad_dir: Path,
                                                    capsys: pytest.CaptureFixture,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    landing = tmp_path / "landing"
    assert main(["synth", "--out", str(landing / "syn"), "--truth", str(tmp_path / "t.csv"),
                 "--images", "60", "--size", "64x48", "--defect", "corrupt=0.1",
                 "--defect", "duplicate=0.1", *PARAMS]) == 0
    assert main(["import-pad", "--source", str(pad_dir), "--out", str(landing / "pad"),
                 "--limit", "80", *PARAMS]) == 0
    capsys.readouterr()
    assert main(["ingest", "--landing", str(landing), *PARAMS]) == 0
    logs = capsys.readouterr()
    ids = {row["patient_id"] for batch in ("syn", "pad")
           for row in csv.DictReader((landing / batch / "manifest.csv").open())}
    assert len(ids) > 50

    outputs = [p for p in state_home.rglob("*") if p.is_file()
               and not p.is_relative_to(state_home / "private")]
    assert any(p.suffix == ".parquet" for p in outputs) and any(p.name == "report.json"
                                                                for p in outputs)
    text = [(str(p.relative_to(state_home)), searchable(p)) for p in outputs]
    text += [("stdout", logs.out.encode()), ("stderr", logs.err.encode()),
             ("log records", caplog.text.encode())]
    leaks = [(where, pid) for where, data in text for pid in ids if pid.encode() in data]
    assert leaks == []
    # The scan can see ids where they are allowed to be: the private store holds the
    # received file names, which for PAD-UFES-20 carry the patient id (PAT_..._....png).
    private = (state_home / "private" / "identity.sqlite").read_bytes()
    assert any(pid.encode() in private for pid in ids if pid.startswith("PAT_"))

"""The canary run: identifiers planted in every column and on every failure path, pushed through
ingest -> quality -> validate -> split -> pack -> version; nothing skinrisk wrote outside the
private store and the landing zone, and nothing it printed, holds any of them. (The DAG
end-to-end test carries canaries on through train, evaluate, promote and audit.)"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pipelines.cli import main
from skinrisk.batch import COLUMN_NAMES
from skinrisk.batch_marker import make_ready_marker
from skinrisk.catalog import CURATED_MANIFEST
from skinrisk.layout import StateLayout
from skinrisk.storage.tables import read_rows
from tests.conftest import REPO
from tests.helpers import images
from tests.helpers.batches import manifest_row, write_batch
from tests.helpers.canary import canary, hostile_rows
from tests.helpers.privacy import leaks, outputs

pytestmark = [pytest.mark.ml, pytest.mark.slow]
# 160x120 synthetic photos: the demo profile's resolution floor (pack.image_size 80) lets
# them through; params.yaml's (299, the paper's input size) would quarantine them all.
PARAMS = ["--params", str(REPO / "params-small.yaml")]
HEADER = ",".join(COLUMN_NAMES)


def write_refused(landing: Path) -> None:
    """An unbalanced quote swallowing a row with canaries: the batch is refused."""
    folder = landing / "r1"
    folder.mkdir(parents=True)
    for n in (60, 61):
        (folder / f"{canary(n)}.jpg").write_bytes(images.jpeg(images.photo(seed=n)))
    text = "\n".join([HEADER, manifest_row(f"{canary(60)}.jpg", source='"hospital-a'),
                      manifest_row(f"{canary(61)}.jpg", patient=canary(62)) + '"', ""])
    (folder / "manifest.csv").write_text(text)
    (folder / "_READY").write_bytes(make_ready_marker(text.encode(), 2))


def test_canaries_never_leave_ingest(tmp_path: Path, state_home: Path,
                                     capsys: pytest.CaptureFixture,
                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    landing = state_home / "landing"
    assert main(["synth", "--out", str(landing / "b1"), "--truth", str(tmp_path / "b1.csv"),
                 "--images", "30", "--size", "160x120", "--seed", "3", *PARAMS]) == 0
    assert main(["synth", "--out", str(tmp_path / "src"), "--truth", str(tmp_path / "src.csv"),
                 "--images", "12", "--size", "160x120", "--seed", "4", *PARAMS]) == 0
    photos = [p.read_bytes() for p in sorted((tmp_path / "src").rglob("*.jpg"))]
    files, rows = hostile_rows(photos)
    folder = write_batch(landing, "h1", files, rows)
    (folder / f"{canary(52)}.jpg").symlink_to(folder / "images" / f"{canary(0)}_0.jpg")
    write_refused(landing)
    waiting = write_batch(landing, "w1", {f"{canary(70)}.jpg": b"x"},
                          [manifest_row(f"{canary(70)}.jpg", patient=canary(71)),
                           manifest_row(f"{canary(72)}.jpg")])  # one file still "uploading"
    assert (waiting / "_READY").is_file()

    assert main(["ingest", *PARAMS]) == 1  # r1 refused; b1 and h1 ingested; w1 waiting
    for stage in (["quality", *PARAMS], ["validate", *PARAMS], ["split", *PARAMS],
                  ["pack", *PARAMS], ["version"]):
        assert main(stage) == 0, stage
    said = capsys.readouterr()
    curated = [r for r in read_rows(StateLayout.from_env().workspace / CURATED_MANIFEST)
               if r["batch_id"] == "h1"]
    assert curated and all(r["device"].startswith("dev-") for r in curated)
    planted = {canary(n) for n in range(80)}
    assert leaks([landing / "h1" / "manifest.csv"], planted, state_home)  # the scan can see
    scanned = [p for p in outputs(state_home) if not p.is_relative_to(landing)]
    assert any(p.suffix == ".parquet" for p in scanned)
    assert any("statistics" in p.name for p in scanned)  # TFDV's output is scanned too
    assert any(p.is_relative_to(state_home / "dvc-remote") for p in scanned)
    assert leaks(scanned, planted, state_home) == []
    spoken = {"stdout": said.out, "stderr": said.err, "log": caplog.text}
    assert [(where, c) for where, text in spoken.items() for c in planted if c in text] == []
    assert "r1" in said.err and "not complete" in " ".join(said.err.split())

"""`skinrisk ingest` from a local landing zone, for real: files, Parquet, SQLite, processes."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from pipelines.cli import main
from skinrisk.batch_marker import make_ready_marker
from skinrisk.storage.private import PrivateStore
from tests.conftest import REPO, VENVS, data_dir
from tests.helpers import images
from tests.helpers.batches import manifest_row, write_batch

PARAMS = ["--params", str(REPO / "params.yaml")]


def ingest(landing: Path, *extra: str) -> int:
    return main(["ingest", "--landing", str(landing), *PARAMS, *extra])


def table(home: Path, batch: str, name: str) -> list[dict]:
    return pq.read_table(data_dir(home) / "raw" / batch / f"{name}.parquet").to_pylist()


def report(home: Path, batch: str) -> dict:
    return json.loads((data_dir(home) / "raw" / batch / "report.json").read_text())


def synth_batch(landing: Path, batch_id: str, images_: int = 40, **defects: float) -> Path:
    argv = ["synth", "--out", str(landing / batch_id), "--truth",
            str(landing.parent / f"{batch_id}.truth.csv"), "--images", str(images_),
            "--size", "64x48", *PARAMS]
    for name, rate in defects.items():
        argv += ["--defect", f"{name}={rate}"]
    assert main(argv) == 0
    return landing / batch_id


def test_a_synthetic_batch_reconciles_and_is_stored_by_content(tmp_path: Path, state_home: Path
                                                               ) -> None:
    landing = tmp_path / "landing"
    synth_batch(landing, "b1", 40, corrupt=0.1, duplicate=0.1)
    assert ingest(landing) == 0
    r = report(state_home, "b1")
    assert r["files_in"] == 40 == r["accepted"] + r["quarantined_files"]
    assert r["rows_in"] == 40 == r["accepted"] + r["quarantined_rows"]
    assert r["by_reason"].get("unreadable", 0) >= 1
    for record in table(state_home, "b1", "images"):
        image_id = record["image_id"]
        stored = data_dir(state_home) / "raw" / "b1" / "images" / f"{image_id}.jpg"
        assert stored.is_file()
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == record["image_id"]
        assert record["patient"].startswith("P-") and record["lesion"].startswith("L-")
        assert record["capture_month"] is None or len(record["capture_month"]) == 7
    # The landing zone is left exactly as it was: nothing is moved or deleted.
    assert len(list((landing / "b1" / "images").iterdir())) == 40


def test_bad_inputs_each_end_in_quarantine_with_their_reason(tmp_path: Path, state_home: Path
                                                             ) -> None:
    files = {
        "ok.jpg": images.jpeg(images.photo(seed=1)),
        "png_named.jpg": images.png(images.photo(seed=2)),
        "cmyk.jpg": images.jpeg(images.photo(seed=3).convert("CMYK")),
        "gray.png": images.png(images.photo(seed=4).convert("L")),
        "truncated.jpg": images.jpeg(images.photo(seed=5))[:400],
        "truncated.png": images.png(images.photo(seed=6))[:-30],
        "empty.jpg": b"",
        "gif.jpg": b"GIF89a" + bytes(64),
        "bomb.png": images.png_header_only(30_000, 30_000),
        "animated.png": images.animated_png(),
        "cutout.png": images.png(Image.new("RGBA", (16, 16), (1, 2, 3, 0))),
        "dup_a.jpg": images.jpeg(images.photo(seed=7)),
        "dup_b.jpg": images.jpeg(images.photo(seed=7)),
        "twins_a.jpg": images.jpeg(images.photo(seed=8)),
        "twins_b.jpg": images.jpeg(images.photo(seed=8)),
        "twice.jpg": images.jpeg(images.photo(seed=9)),
        "unlisted.jpg": images.jpeg(images.photo(seed=10)),
        "notes.txt": b"not an image",
        "formula.jpg": images.jpeg(images.photo(seed=11)),
        "unknown.jpg": images.jpeg(images.photo(seed=12)),
    }
    rows = [manifest_row(n) for n in files if n not in ("unlisted.jpg", "notes.txt",
                                                        "twins_b.jpg", "twice.jpg",
                                                        "formula.jpg", "unknown.jpg")]
    rows += [manifest_row("twins_b.jpg", patient="MRN0002"),
             manifest_row("twice.jpg"), manifest_row("twice.jpg", patient="MRN0003"),
             manifest_row("../escape.jpg"),
             manifest_row("nul\x00.jpg"), manifest_row("formula.jpg", device="=cmd|' /C calc'!A0"),
             manifest_row("unknown.jpg", diagnosis="WART")]
    write_batch(tmp_path / "landing", "bad", files, rows)
    assert ingest(tmp_path / "landing") == 0
    accepted = {r["received_sha256"] for r in table(state_home, "bad", "images")}
    quarantined = table(state_home, "bad", "quarantine")
    with PrivateStore(state_home / "private" / "identity.sqlite") as private:
        where = {f["file_name"]: f for f in private.files_of("bad")}
    outcome = {name: (f["outcome"], f["reason"]) for name, f in where.items()}
    assert outcome == {
        "ok.jpg": ("accepted", None), "png_named.jpg": ("accepted", None),
        "cmyk.jpg": ("accepted", None), "gray.png": ("accepted", None),
        "dup_a.jpg": ("accepted", None),
        "dup_b.jpg": ("quarantined", "duplicate_image"),
        "twins_a.jpg": ("quarantined", "conflicting_patient"),
        "twins_b.jpg": ("quarantined", "conflicting_patient"),
        "truncated.jpg": ("quarantined", "unreadable"),
        "truncated.png": ("quarantined", "unreadable"),
        "empty.jpg": ("quarantined", "empty_file"),
        "gif.jpg": ("quarantined", "unsupported_format"),
        "bomb.png": ("quarantined", "too_many_pixels"),
        "animated.png": ("quarantined", "animated"),
        "cutout.png": ("quarantined", "transparency"),
        "twice.jpg": ("quarantined", "duplicate_row"),
        "unlisted.jpg": ("quarantined", "not_in_manifest"),
        "notes.txt": ("quarantined", "not_in_manifest"),
        "formula.jpg": ("quarantined", "unsafe_value"),
        "unknown.jpg": ("quarantined", "unknown_diagnosis"),
    }
    assert len(accepted) == 5
    row_reasons = sorted(q["reason"] for q in quarantined if q["stored_as"] is None)
    assert row_reasons == ["bad_file_name", "bad_file_name", "duplicate_row"]
    # Every quarantined file is kept, byte for byte as received.
    for q in quarantined:
        if q["stored_as"]:
            kept = (state_home / "quarantine" / q["stored_as"]).read_bytes()
            assert hashlib.sha256(kept).hexdigest() == q["received_sha256"]
    r = report(state_home, "bad")
    assert r["files_in"] == len(files) == r["accepted"] + r["quarantined_files"]
    assert r["rows_in"] == len(rows) == r["accepted"] + r["quarantined_rows"]


def test_exif_gps_and_serial_numbers_are_gone_from_the_stored_bytes(tmp_path: Path,
                                                                   state_home: Path) -> None:
    files = {f"o{k}.jpg": images.jpeg(images.photo(64, 48, seed=k), orientation=k)
             for k in range(1, 9)}
    write_batch(tmp_path / "landing", "exif", files,
                [manifest_row(n, patient=f"MRN{i}") for i, n in enumerate(files)])
    assert ingest(tmp_path / "landing") == 0
    stored = list((data_dir(state_home) / "raw").rglob("*.jpg"))
    assert len(stored) == 8
    sizes = []
    for path in stored:
        data = path.read_bytes()
        assert images.SERIAL.encode() not in data and b"MRN0042" not in data
        img = Image.open(path)
        assert dict(img.getexif()) == {}
        sizes.append(img.size)
    # Orientations 5-8 turn the 64x48 sensor image a quarter: upright it is 48x64.
    assert sorted(sizes) == [(48, 64)] * 4 + [(64, 48)] * 4


def _mtimes(folder: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def test_a_rerun_is_a_no_op_and_a_changed_resend_is_refused(tmp_path: Path, state_home: Path,
                                                            capsys: pytest.CaptureFixture
                                                            ) -> None:
    landing = tmp_path / "landing"
    synth_batch(landing, "b1", 12)
    assert ingest(landing) == 0
    before = _mtimes(data_dir(state_home) / "raw")
    assert ingest(landing) == 0
    assert "unchanged" in capsys.readouterr().out
    after = _mtimes(data_dir(state_home) / "raw")
    assert after == before
    # The hospital re-sends b1 with different content under the same id.
    manifest = landing / "b1" / "manifest.csv"
    manifest.write_text(manifest.read_text().replace("hospital-a", "hospital-z"))
    (landing / "b1" / "_READY").unlink()
    (landing / "b1" / "_READY").write_bytes(make_ready_marker(manifest.read_bytes(), 12))
    assert ingest(landing) == 1
    assert "new batch id" in capsys.readouterr().err
    after = _mtimes(data_dir(state_home) / "raw")
    assert after == before


def test_a_batch_committed_without_its_ledger_event_gets_it_on_the_rerun(
        tmp_path: Path, state_home: Path) -> None:
    # A run cut between the raw zone's commit and the ledger append (killed, or its metadata
    # database lost) leaves the batch in the dataset but not in the ledger: the rerun, which
    # finds the batch unchanged, writes the missing event, once.
    from skinrisk import ledger
    from skinrisk.layout import StateLayout

    landing = tmp_path / "landing"
    synth_batch(landing, "b1", 12)
    assert ingest(landing) == 0
    path = ledger.ledger_path(StateLayout(state_home))
    lines = path.read_bytes().splitlines(keepends=True)
    assert b'"batch_ingested"' in lines[-1]
    path.write_bytes(b"".join(lines[:-1]))  # as if the append never happened
    assert ingest(landing) == 0
    assert ingest(landing) == 0
    events = [e for e in ledger.read(StateLayout(state_home)) if e["event"] == "batch_ingested"]
    assert [e["data"]["batch_id"] for e in events] == ["b1"]
    assert events[0]["data"]["files_in"] == 12
    assert ledger.check(StateLayout(state_home)).ok


def test_a_batch_without_its_marker_is_left_alone(tmp_path: Path, state_home: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    write_batch(tmp_path / "landing", "uploading", {"a.jpg": images.jpeg()},
                [manifest_row("a.jpg")], ready=False)
    assert ingest(tmp_path / "landing") == 0
    assert "waiting for 1 batch(es) without _READY: uploading" in capsys.readouterr().err
    assert not (data_dir(state_home) / "raw" / "uploading").exists()


def test_same_patient_gets_the_same_surrogate_across_batches(tmp_path: Path, state_home: Path
                                                            ) -> None:
    landing = tmp_path / "landing"
    write_batch(landing, "b1", {"a.jpg": images.jpeg(images.photo(seed=1))},
                [manifest_row("a.jpg", patient="MRN0012345")])
    write_batch(landing, "b2", {"a.jpg": images.jpeg(images.photo(seed=2)),
                                "b.jpg": images.jpeg(images.photo(seed=3))},
                [manifest_row("a.jpg", patient=" mrn12345"),
                 manifest_row("b.jpg", patient="MRN0012346")])
    assert ingest(landing) == 0
    first = table(state_home, "b1", "images")[0]["patient"]
    second = [r["patient"] for r in table(state_home, "b2", "images")]
    assert second[0] == first and second[1] != first


def _run_ingest(home: Path, landing: Path) -> subprocess.Popen:
    return subprocess.Popen([str(VENVS / "ml" / "bin" / "skinrisk"), "ingest", "--landing",
                             str(landing), *PARAMS], env={**os.environ, "SKINRISK_HOME": str(home)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _state(home: Path) -> dict:
    """What a reader can see: committed tables (timestamps aside) and their images."""
    seen = {}
    for batch in sorted(p for p in (data_dir(home) / "raw").iterdir() if p.is_dir()):
        rows = [{k: v for k, v in r.items() if k not in ("ingested_at", "quarantined_at",
                                                          "patient", "lesion", "device")}
                for name in ("images", "quarantine") for r in table(home, batch.name, name)]
        seen[batch.name] = sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))
    return seen


@pytest.mark.slow
def test_kill_9_mid_ingest_then_rerun_ends_like_an_uninterrupted_run(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    synth_batch(landing, "big", 150, corrupt=0.05)
    synth_batch(landing, "small", 10)
    clean = tmp_path / "clean"
    assert _run_ingest(clean, landing).wait(timeout=300) == 0
    killed = tmp_path / "killed"
    proc = _run_ingest(killed, landing)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list((data_dir(killed) / "raw").rglob("*.jpg"))) < 40:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (data_dir(killed) / "raw" / "big" / "report.json").exists(), "killed too late"
    assert _run_ingest(killed, landing).wait(timeout=300) == 0
    assert _state(killed) == _state(clean)


@pytest.mark.slow
def test_two_ingests_of_the_same_batch_at_once_commit_it_once(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    synth_batch(landing, "b1", 60)
    home = tmp_path / "state"
    first, second = _run_ingest(home, landing), _run_ingest(home, landing)
    outputs = [p.communicate(timeout=300) for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0]
    statuses = sorted("ingested" if "ingested" in out else "unchanged" for out, _ in outputs)
    assert statuses == ["ingested", "unchanged"]
    assert len(table(home, "b1", "images")) == report(home, "b1")["accepted"]


def test_the_real_pad_sample_end_to_end(tmp_path: Path, state_home: Path, pad_dir: Path) -> None:
    landing = tmp_path / "landing"
    assert main(["import-pad", "--source", str(pad_dir), "--out", str(landing / "pad"),
                 *PARAMS]) == 0
    assert ingest(landing) == 0
    r = report(state_home, "pad")
    assert r["files_in"] == 516 == r["accepted"] + r["quarantined_files"]
    rows = table(state_home, "pad", "images")
    assert {row["format"] for row in rows} == {"png"}
    assert sum(row["fitzpatrick"] is None for row in rows) > 100  # kept as unknown, not dropped
    scc = [row for row in rows if row["diagnosis"] == "PAD:SCC"]
    assert scc and all(row["grade"] == "dangerous" and "graded-conservatively" in row["flags"]
                       for row in scc)


def test_a_photo_already_in_an_earlier_batch_is_caught_in_the_same_run(
        tmp_path: Path, state_home: Path) -> None:
    landing = tmp_path / "landing"
    photo = images.jpeg(images.photo(seed=21))
    write_batch(landing, "b1", {"a.jpg": photo}, [manifest_row("a.jpg", patient="MRN1")])
    write_batch(landing, "b2", {"again.jpg": photo, "other.jpg": photo},
                [manifest_row("again.jpg", patient="MRN1"),
                 manifest_row("other.jpg", patient="MRN2")])
    assert ingest(landing) == 0  # both batches in one run
    assert len(table(state_home, "b1", "images")) == 1
    reasons = sorted(q["reason"] for q in table(state_home, "b2", "quarantine"))
    assert reasons == ["conflicting_patient", "duplicate_image"]
    assert table(state_home, "b2", "images") == []


def test_ingest_reports_progress_against_the_batch_total(tmp_path: Path) -> None:
    """The progress bar's count: every file of the plan, refused or read, against a total
    known before the first file is read."""
    import datetime as dt

    from skinrisk.imaging.deidentify import Limits
    from skinrisk.ingest.runner import Arrivals, ingest_batch
    from skinrisk.storage.landing import LocalLanding
    from skinrisk.storage.rawzone import RawZone
    from skinrisk.vocabulary import ETHNICITY_GROUPS

    files = {f"images/{n}.jpg": images.jpeg(images.photo(120, 100, seed=n)) for n in range(3)}
    files["images/broken.jpg"] = b"not a jpeg"
    rows = [manifest_row(name, patient=f"MRN{n}") for n, name in enumerate(files)]
    files["images/stray.jpg"] = files["images/0.jpg"]  # in no manifest row: refused unread
    write_batch(tmp_path / "landing", "b1", files, rows)
    calls: list[tuple[int, int]] = []
    with PrivateStore(tmp_path / "private.sqlite") as private:
        outcome = ingest_batch(LocalLanding(tmp_path / "landing").open_batch("b1"),
                               RawZone(tmp_path / "raw", tmp_path / "quarantine"), private,
                               Limits(50 * 2**20, 64_000_000),
                               dt.datetime.now(dt.UTC).isoformat(), "test",
                               Arrivals(3600, time.time(), ETHNICITY_GROUPS),
                               lambda done, total: calls.append((done, total)))
    assert outcome.status == "ingested"
    assert [done for done, _ in calls] == list(range(1, len(calls) + 1))
    assert {total for _, total in calls} == {len(calls)} and len(calls) == 5

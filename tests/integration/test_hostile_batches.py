"""Issue 19's findings, each as a regression test on real folders and the real `skinrisk ingest`:
what a careless or hostile sender can put in a batch, and what must hold regardless."""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path

import pytest
import yaml

from pipelines.cli import main
from skinrisk.batch import COLUMN_NAMES
from skinrisk.batch_marker import make_ready_marker
from tests.conftest import REPO, data_dir
from tests.helpers import images
from tests.helpers.batches import manifest_row, write_batch
from tests.helpers.privacy import leaks, searchable

pytestmark = pytest.mark.ml

NAME, MRN = "Yolanda Vrzbicki", "MRN 0098765432"
HEADER = ",".join(COLUMN_NAMES)


@pytest.fixture()
def params(tmp_path: Path) -> list[str]:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"extends": str(REPO / "params.yaml"),
                                    "ingest": {"ready_grace_minutes": 5}}))
    return ["--params", str(path)]


def ingest(landing: Path, params: list[str], *extra: str) -> int:
    return main(["ingest", "--landing", str(landing), *params, *extra])


def raw_batch(landing: Path, batch_id: str, files: dict[str, bytes], manifest: str,
              count: int | None = None) -> Path:
    folder = landing / batch_id
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    (folder / "manifest.csv").write_bytes(manifest.encode())
    rows = manifest.count("\n") - 1 if count is None else count
    (folder / "_READY").write_bytes(make_ready_marker(manifest.encode(), rows))
    return folder


def photo(seed: int) -> bytes:
    return images.jpeg(images.photo(seed=seed))


def scan(home: Path, capsys: pytest.CaptureFixture, planted: set[str]) -> list:
    said = capsys.readouterr()
    found = leaks([p for p in home.rglob("*") if p.is_file()
                   and not p.is_relative_to(home / "private")], planted, home)
    return found + [(where, s) for where, text in (("stdout", said.out), ("stderr", said.err))
                    for s in planted if s in text]


def test_values_are_never_quoted_and_free_text_is_closed(tmp_path: Path, state_home: Path,
                                                         params: list[str],
                                                         capsys: pytest.CaptureFixture) -> None:
    """Findings 1 and 3: details name the column and rule; body site and ethnicity are closed
    vocabularies, the device a keyed hash."""
    files = {f"{i}.jpg": photo(i) for i in range(5)}
    rows = [manifest_row("0.jpg", diagnosis=NAME), manifest_row("1.jpg", device=f"Dr. {NAME}'s"),
            manifest_row("2.jpg").replace(",back,", f",{NAME},"),
            manifest_row("3.jpg").replace(",3,,", f",{MRN},,"),
            manifest_row("4.jpg").replace(",3,,", f",3,{NAME} {MRN},")]
    write_batch(tmp_path / "landing", "b1", files, rows)
    assert ingest(tmp_path / "landing", params) == 0
    raw = data_dir(state_home) / "raw" / "b1"
    import pyarrow.parquet as pq

    quarantined = pq.read_table(raw / "quarantine.parquet").to_pylist()
    assert sorted((q["line"], q["reason"]) for q in quarantined) == [
        (2, "unknown_diagnosis"), (4, "bad_value"), (5, "bad_value"), (6, "bad_value")]
    by_line = {q["line"]: q["detail"] for q in quarantined}
    assert "body_site" in by_line[4] and "fitzpatrick" in by_line[5] and "ethnicity" in by_line[6]
    (accepted,) = pq.read_table(raw / "images.parquet").to_pylist()
    assert accepted["device"].startswith("dev-") and len(accepted["device"]) == 20
    assert scan(state_home, capsys, {NAME, MRN, "Vrzbicki", "0098765432"}) == []


def test_an_unbalanced_quote_refuses_the_batch_naming_the_line(tmp_path: Path, state_home: Path,
                                                               params: list[str],
                                                               capsys: pytest.CaptureFixture
                                                               ) -> None:
    """Finding 2: a quote that swallows the next row (its MRN, its file name) refuses the batch;
    `batch check` says the same before anything is ingested."""
    files = {"a.jpg": photo(1), "b.jpg": photo(2), "c.jpg": photo(3)}
    text = "\n".join([HEADER, manifest_row("a.jpg"),
                      manifest_row("b.jpg", source='"hospital-b'),
                      manifest_row("c.jpg", patient="MRN8651229") + '"', ""])
    folder = raw_batch(tmp_path / "landing", "q1", files, text, count=3)
    assert main(["batch", "check", str(folder), *params]) == 1
    assert "line 3" in capsys.readouterr().err
    assert ingest(tmp_path / "landing", params) == 1
    said = capsys.readouterr()
    assert "q1/manifest.csv line 3" in said.err and "double quote" in said.err
    assert "MRN8651229" not in said.err + said.out
    assert not (data_dir(state_home) / "raw" / "q1").exists()


def test_a_quoted_line_break_is_quarantined_and_validation_goes_on(
        tmp_path: Path, state_home: Path, params: list[str]) -> None:
    """Finding 5 (the ingest half): a value with a line break never reaches the dataset."""
    files = {"a.jpg": photo(1), "b.jpg": photo(2)}
    text = "\n".join([HEADER, manifest_row("a.jpg"),
                      manifest_row("b.jpg").replace(",back,", ',"left\nforearm",'), ""])
    raw_batch(tmp_path / "landing", "n1", files, text, count=2)
    assert ingest(tmp_path / "landing", params) == 0
    report = json.loads((data_dir(state_home) / "raw" / "n1" / "report.json").read_text())
    assert report["by_reason"] == {"unsafe_value": 1} and report["accepted"] == 1


def test_links_fifos_sockets_and_outside_hard_links_are_quarantined_unread(
        tmp_path: Path, state_home: Path, params: list[str],
        capsys: pytest.CaptureFixture) -> None:
    """Finding 6: nothing outside the batch is read; each entry is accounted for."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "other_patient.jpg").write_bytes(photo(9))
    secret = outside / "secret.txt"
    secret.write_bytes(b"root:x:0:0:TOP-SECRET-CANARY\n")
    landing = tmp_path / "landing"
    folder = write_batch(landing, "l1", {"ok.jpg": photo(1)},
                         [manifest_row("ok.jpg"), manifest_row("link.jpg"),
                          manifest_row("hard.jpg"), manifest_row("fifo.jpg")], ready=False)
    (folder / "link.jpg").symlink_to(outside / "other_patient.jpg")
    (folder / "passwd").symlink_to(secret)
    (folder / "dirlink").symlink_to(outside, target_is_directory=True)
    os.link(outside / "other_patient.jpg", folder / "hard.jpg")
    os.mkfifo(folder / "fifo.jpg")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(folder / "sock"))
    manifest = (folder / "manifest.csv").read_bytes()
    (folder / "_READY").write_bytes(make_ready_marker(manifest, 4))
    (landing / "linked-batch").symlink_to(outside, target_is_directory=True)
    try:
        assert main(["batch", "check", str(folder), *params]) == 1
        assert "symbolic link" in capsys.readouterr().err
        started = time.monotonic()
        assert ingest(landing, params, "--batch", "l1") == 0
        assert time.monotonic() - started < 60  # a FIFO never blocks the read
    finally:
        sock.close()
    raw = data_dir(state_home) / "raw" / "l1"
    report = json.loads((raw / "report.json").read_text())
    assert report["files_in"] == 7 == report["accepted"] + report["quarantined_files"]
    assert report["by_reason"] == {"hard_link": 1, "not_regular_file": 5}
    kept = [p for p in (state_home / "quarantine").rglob("*") if p.is_file()]
    assert len(kept) == 6 and not any(b"TOP-SECRET" in searchable(p) for p in kept)
    assert not any(p.suffix == ".jpg" for p in kept)  # the outside photo was never copied
    # A landing entry that is a link to a folder is refused as a batch, not walked.
    assert ingest(landing, params, "--batch", "linked-batch") == 1
    assert "not a folder" in capsys.readouterr().err


def test_a_same_size_edit_of_a_committed_batch_is_refused(tmp_path: Path, state_home: Path,
                                                          params: list[str],
                                                          capsys: pytest.CaptureFixture) -> None:
    """Finding 7: a resend is judged by content, not by size and count."""
    files = {"a.jpg": photo(1), "b.jpg": photo(2)}
    folder = write_batch(tmp_path / "landing", "r1", files,
                         [manifest_row("a.jpg"), manifest_row("b.jpg", patient="MRN2")])
    assert ingest(tmp_path / "landing", params) == 0
    before = (data_dir(state_home) / "raw" / "r1" / "report.json").read_bytes()
    os.utime(folder / "a.jpg")  # touched, same bytes: still the same batch
    assert ingest(tmp_path / "landing", params) == 0
    data = bytearray((folder / "b.jpg").read_bytes())
    data[-10] ^= 0xFF  # one byte changed, same size
    (folder / "b.jpg").write_bytes(bytes(data))
    capsys.readouterr()
    assert ingest(tmp_path / "landing", params) == 1
    assert "1 file(s) changed" in capsys.readouterr().err
    assert (data_dir(state_home) / "raw" / "r1" / "report.json").read_bytes() == before
    # Refused once: the next run skips it with a warning and exits 0; pending leaves it out.
    assert ingest(tmp_path / "landing", params) == 0
    assert "refused before" in capsys.readouterr().err
    assert main(["batch", "pending", "--landing", str(tmp_path / "landing")]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("marker", [{"image_count": 99}, {"image_count": "three"},
                                    {"image_count": True}, {"manifest_sha256": "0" * 64}])
def test_a_marker_that_does_not_match_leaves_the_batch_waiting_then_refused(
        tmp_path: Path, state_home: Path, params: list[str], capsys: pytest.CaptureFixture,
        marker: dict) -> None:
    """Finding 8: the marker's count and hash must match, with types checked; a batch waits
    for its grace period, then is refused, and a later complete upload is ingested."""
    folder = write_batch(tmp_path / "landing", "m1", {"a.jpg": photo(1)},
                         [manifest_row("a.jpg")])
    good = json.loads((folder / "_READY").read_text())
    (folder / "_READY").write_text(json.dumps({**good, **marker}))
    assert ingest(tmp_path / "landing", params) == 0
    assert "not complete" in capsys.readouterr().err
    assert not (data_dir(state_home) / "raw" / "m1").exists()
    old = time.time() - 6 * 60  # past the 5-minute grace of this test's params
    os.utime(folder / "_READY", (old, old))
    assert ingest(tmp_path / "landing", params) == 1
    assert "still incomplete" in capsys.readouterr().err
    (folder / "_READY").write_text(json.dumps(good))  # the producer finishes properly
    assert ingest(tmp_path / "landing", params) == 0
    assert (data_dir(state_home) / "raw" / "m1" / "report.json").is_file()


def test_a_listed_file_still_uploading_makes_the_batch_wait(tmp_path: Path, state_home: Path,
                                                            params: list[str]) -> None:
    folder = write_batch(tmp_path / "landing", "w1", {"a.jpg": photo(1)},
                         [manifest_row("a.jpg"), manifest_row("b.jpg", patient="MRN2")])
    assert ingest(tmp_path / "landing", params) == 0
    assert not (data_dir(state_home) / "raw" / "w1").exists()
    (folder / "b.jpg").write_bytes(photo(2))
    assert ingest(tmp_path / "landing", params) == 0
    report = json.loads((data_dir(state_home) / "raw" / "w1" / "report.json").read_text())
    assert report["accepted"] == 2


def test_invalid_batch_ids_are_never_read_and_never_block(tmp_path: Path, state_home: Path,
                                                          params: list[str],
                                                          capsys: pytest.CaptureFixture) -> None:
    """Findings 9 and 10: a folder whose name is not a batch id is reported by shape only and
    never stored; a bad --batch is a usage error; a landing path that does not exist fails."""
    landing = tmp_path / "landing"
    write_batch(landing, "bad batch id with spaces", {"a.jpg": photo(1)}, [manifest_row("a.jpg")])
    write_batch(landing, "good", {"a.jpg": photo(2)}, [manifest_row("a.jpg")])
    assert ingest(landing, params) == 0
    said = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
    assert "not valid batch ids" in said and "bad batch" not in said
    assert sorted(p.name for p in (data_dir(state_home) / "raw").iterdir()) == ["good"]
    assert ingest(landing, params, "--batch", "bad batch id with spaces") == 2
    assert "--batch" in capsys.readouterr().err
    assert ingest(tmp_path / "nonexistent", params) == 1
    assert "does not exist" in capsys.readouterr().err


def test_one_refused_batch_does_not_fail_every_later_run(tmp_path: Path, state_home: Path,
                                                         params: list[str],
                                                         capsys: pytest.CaptureFixture) -> None:
    """Finding 10: refused once (ledger event), then skipped with a warning; fixing it in place
    makes it a candidate again; the other batches are ingested throughout."""
    landing = tmp_path / "landing"
    bad = raw_batch(landing, "bad", {"a.jpg": photo(1)},
                    "\n".join([HEADER.replace("device", "devise"), manifest_row("a.jpg"), ""]))
    write_batch(landing, "ok1", {"a.jpg": photo(2)}, [manifest_row("a.jpg")])
    assert ingest(landing, params) == 1
    write_batch(landing, "ok2", {"a.jpg": photo(3)}, [manifest_row("a.jpg")])
    assert ingest(landing, params) == 0
    assert "refused before" in capsys.readouterr().err
    events = [json.loads(line)["event"] for line in
              (state_home / "ledger" / "ledger.jsonl").read_text().splitlines()]
    assert events.count("batch_refused") == 1 and events.count("batch_ingested") == 2
    fixed = write_batch(tmp_path / "fixed", "bad", {"a.jpg": photo(1)}, [manifest_row("a.jpg")])
    for name in ("manifest.csv", "_READY"):
        (bad / name).write_bytes((fixed / name).read_bytes())
    assert ingest(landing, params, "--batch", "bad") == 0
    assert (data_dir(state_home) / "raw" / "bad" / "report.json").is_file()


def events(home: Path) -> list[str]:
    return [json.loads(line)["event"]
            for line in (home / "ledger" / "ledger.jsonl").read_text().splitlines()]


def pending(landing: Path, capsys: pytest.CaptureFixture) -> list[str]:
    capsys.readouterr()
    assert main(["batch", "pending", "--landing", str(landing)]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_a_marker_without_a_manifest_waits_then_is_refused_once(
        tmp_path: Path, state_home: Path, params: list[str],
        capsys: pytest.CaptureFixture) -> None:
    """A `_READY` written before manifest.csv (or without it) is an upload not yet complete: the
    batch waits, the line names the batch and what is missing; past the grace it is refused
    once (ledger), then skipped; the manifest arriving makes it a candidate again."""
    landing = tmp_path / "landing"
    folder = write_batch(landing, "nm1", {"a.jpg": photo(1)}, [manifest_row("a.jpg")])
    manifest = (folder / "manifest.csv").read_bytes()
    (folder / "manifest.csv").unlink()
    write_batch(landing, "ok1", {"a.jpg": photo(2)}, [manifest_row("a.jpg", patient="MRN2")])
    assert ingest(landing, params) == 0
    said = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
    assert "batch nm1" in said and "no manifest.csv" in said and "Left waiting" in said
    raw = data_dir(state_home) / "raw"
    assert (raw / "ok1" / "report.json").is_file() and not (raw / "nm1").exists()
    old = time.time() - 6 * 60  # past the 5-minute grace of this test's params
    os.utime(folder / "_READY", (old, old))
    assert ingest(landing, params) == 1
    said = " ".join(capsys.readouterr().err.split())
    assert "still incomplete" in said and "no manifest.csv" in said
    assert ingest(landing, params) == 0
    assert "refused before" in capsys.readouterr().err
    assert events(state_home).count("batch_refused") == 1
    assert pending(landing, capsys) == []
    (folder / "manifest.csv").write_bytes(manifest)  # the producer finishes: tried again
    assert pending(landing, capsys) == ["nm1"]
    assert ingest(landing, params) == 0
    assert json.loads((raw / "nm1" / "report.json").read_text())["accepted"] == 1


def test_a_committed_batch_whose_manifest_is_removed_is_refused_as_changed(
        tmp_path: Path, state_home: Path, params: list[str],
        capsys: pytest.CaptureFixture) -> None:
    folder = write_batch(tmp_path / "landing", "g1", {"a.jpg": photo(1)}, [manifest_row("a.jpg")])
    assert ingest(tmp_path / "landing", params) == 0
    (folder / "manifest.csv").unlink()
    capsys.readouterr()
    assert ingest(tmp_path / "landing", params) == 1
    said = " ".join(capsys.readouterr().err.split())
    assert "manifest.csv removed" in said and "Nothing was changed" in said


def test_a_landing_entry_that_is_a_link_is_refused_once_never_followed(
        tmp_path: Path, state_home: Path, params: list[str],
        capsys: pytest.CaptureFixture) -> None:
    """A batch reads only its own regular files: a link in place of a batch folder, even to a
    complete batch, is refused with its reason, recorded once and skipped while unchanged; the
    other batches are ingested; a real folder in its place is ingested."""
    elsewhere = tmp_path / "elsewhere"
    target = write_batch(elsewhere, "real", {"a.jpg": photo(1)}, [manifest_row("a.jpg")])
    landing = tmp_path / "landing"
    write_batch(landing, "ok1", {"a.jpg": photo(2)}, [manifest_row("a.jpg", patient="MRN2")])
    (landing / "linked").symlink_to(target, target_is_directory=True)
    (landing / "dangling").symlink_to(tmp_path / "nowhere")
    assert ingest(landing, params) == 1
    said = " ".join(capsys.readouterr().err.split())
    assert "batch linked" in said and "symbolic link" in said and "not followed" in said
    assert str(elsewhere) not in said  # where a link points is the sender's text
    raw = data_dir(state_home) / "raw"
    assert sorted(p.name for p in raw.iterdir()) == ["ok1"]
    assert not [p for p in (state_home / "quarantine").rglob("*") if p.is_file()]
    assert ingest(landing, params) == 0
    assert capsys.readouterr().err.count("refused before") == 2
    assert events(state_home).count("batch_refused") == 2
    assert pending(landing, capsys) == []
    (landing / "linked").unlink()  # the sender puts the batch itself in place of the link
    shutil.copytree(target, landing / "linked")
    assert pending(landing, capsys) == ["linked"]
    assert ingest(landing, params) == 0
    assert (raw / "linked" / "report.json").is_file()

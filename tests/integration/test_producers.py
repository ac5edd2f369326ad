"""The batch producers and `batch check`, run as commands on real files and the real PAD sample."""

import csv
import hashlib
from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.producers import write_batch
from skinrisk.batch import READY_MARKER, parse_manifest
from skinrisk.sources.pad import pad_rows

REPO = Path(__file__).resolve().parents[2]
PARAMS = ["--params", str(REPO / "params.yaml")]


def synth(tmp_path: Path, *extra: str) -> int:
    return main(["synth", "--out", str(tmp_path / "b1"), "--truth", str(tmp_path / "t.csv"),
                 "--images", "24", "--size", "64x48", *PARAMS, *extra])


def test_synth_writes_a_batch_that_passes_the_check_and_keeps_truth_outside(
        tmp_path: Path, state_home: Path, capsys: pytest.CaptureFixture) -> None:
    assert synth(tmp_path, "--defect", "corrupt=0.2", "--defect", "dye=0.3") == 0
    batch = tmp_path / "b1"
    assert sorted(p.name for p in batch.iterdir()) == ["_READY", "images", "manifest.csv"]
    assert len(list((batch / "images").iterdir())) == 24
    truth = list(csv.DictReader((tmp_path / "t.csv").open()))
    assert len(truth) == 24 and any("corrupt" in t["defects"] for t in truth)
    assert main(["batch", "check", str(batch)]) == 0
    assert "24" in capsys.readouterr().out
    assert not state_home.exists()  # --out and --truth were given: nothing else written


def test_a_published_batch_is_never_overwritten(tmp_path: Path, state_home: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    assert synth(tmp_path) == 0
    before = (tmp_path / "b1" / "manifest.csv").read_bytes()
    assert synth(tmp_path, "--seed", "99") == 1
    assert "already a complete batch" in capsys.readouterr().err
    assert (tmp_path / "b1" / "manifest.csv").read_bytes() == before


def test_a_killed_producer_publishes_nothing_and_a_rerun_completes(tmp_path: Path) -> None:
    rows = parse_manifest(_three_row_manifest())
    batch = tmp_path / "b"

    def dies_after_two():
        for i, row in enumerate(rows):
            if i == 2:
                raise KeyboardInterrupt  # what a kill looks like from inside
            yield row.file_name, b"x" * 10

    with pytest.raises(KeyboardInterrupt):
        write_batch(batch, rows, dies_after_two(), "test")
    assert not (batch / READY_MARKER).exists() and not (batch / "manifest.csv").exists()
    write_batch(batch, rows, ((r.file_name, b"y") for r in rows), "test")
    assert (batch / READY_MARKER).exists()
    assert all((batch / r.file_name).read_bytes() == b"y" for r in rows)


def _three_row_manifest() -> str:
    header = ("file_name,patient_id,lesion_id,diagnosis,pathology_verified,body_site,"
              "fitzpatrick,ethnicity,capture_date,device,source")
    return "\n".join([header] + [f"images/{i}.jpg,P{i},L{i},MEL,true,,,,,,h" for i in range(3)])


def test_batch_check_names_the_bad_row_and_exits_1(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    assert synth(tmp_path) == 0
    manifest = tmp_path / "b1" / "manifest.csv"
    lines = manifest.read_text().splitlines()
    lines[3] = lines[3].replace(lines[3].split(",")[3], "WART")
    manifest.write_text("\n".join(lines) + "\n")
    assert main(["batch", "check", str(tmp_path / "b1")]) == 1
    assert "does not match manifest.csv" in capsys.readouterr().err  # marker catches the edit


@pytest.mark.parametrize("argv", [
    ["synth", "--images", "lots"], ["synth", "--size", "big"], ["synth", "--defect", "blur"],
    ["batch", "check"], ["no-such-command"],
])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture) -> None:
    assert main(argv) == 2


@pytest.mark.parametrize("argv", [[], ["taxonomy"], ["synth"], ["import-pad"], ["demo"],
                                  ["batch"], ["batch", "check"]])
def test_every_command_has_help(argv: list[str], capsys: pytest.CaptureFixture) -> None:
    assert main([*argv, "--help"]) == 0
    assert "Usage" in capsys.readouterr().out


def test_invalid_params_exit_1_naming_the_key(tmp_path: Path, capsys: pytest.CaptureFixture
                                              ) -> None:
    bad = tmp_path / "params.yaml"
    bad.write_text("synth:\n  images: -5\n")
    assert main(["synth", "--out", str(tmp_path / "b"), "--params", str(bad)]) == 1
    assert "synth.images" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_pad_rows_keep_the_real_data_as_it_is(pad_dir: Path) -> None:
    rows = pad_rows((pad_dir / "metadata.csv").read_text())
    assert len(rows) == 516
    assert {r.source for r in rows} == {"pad-ufes-20"}
    assert any(r.fitzpatrick is None for r in rows)  # missing skin types stay missing
    assert {r.diagnosis for r in rows} <= {f"PAD:{c}" for c in
                                           ("ACK", "BCC", "MEL", "NEV", "SCC", "SEK")}


def test_import_pad_copies_photos_byte_for_byte(tmp_path: Path, pad_dir: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "pad"
    assert main(["import-pad", "--source", str(pad_dir), "--out", str(out), "--limit", "12",
                 *PARAMS]) == 0
    rows = parse_manifest((out / "manifest.csv").read_text())
    assert len(rows) == 12
    for row in rows:
        name = row.file_name.removeprefix("images/")
        assert (hashlib.sha256((out / row.file_name).read_bytes()).digest()
                == hashlib.sha256((pad_dir / "images" / name).read_bytes()).digest())
    assert main(["batch", "check", str(out)]) == 0


def test_import_pad_without_the_data_says_where_to_point_it(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture) -> None:
    assert main(["import-pad", "--source", str(tmp_path), "--out", str(tmp_path / "x"),
                 *PARAMS]) == 1
    assert "SKINRISK_PAD_DIR" in capsys.readouterr().err

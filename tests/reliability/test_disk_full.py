"""Case 8: the disk fills while ingest writes the raw zone — a clear error, nothing committed
or half-written, and the rerun after space frees completes as if nothing happened. The full
disk is real: a small tmpfs mounted over the raw zone (root only; skipped elsewhere)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.cli import main
from tests.conftest import REPO, data_dir
from tests.helpers.invariants import assert_invariants, landing_files

PARAMS = ["--params", str(REPO / "params.yaml")]


@pytest.fixture()
def small_disk(state_home: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs where the raw zone lives; unmounted at the end."""
    raw = data_dir(state_home) / "raw"
    raw.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(raw)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(reason=f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield raw
    finally:
        subprocess.run(["umount", "-l", str(raw)], check=False)


def test_a_full_raw_zone_fails_clearly_and_the_rerun_after_space_frees_completes(
        small_disk: Path, state_home: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    landing = tmp_path / "landing"
    assert main(["synth", "--out", str(landing / "b1"), "--truth", str(tmp_path / "t.csv"),
                 "--images", "16", "--size", "640x480", *PARAMS]) == 0
    sent = landing_files(landing / "b1")
    capsys.readouterr()

    assert main(["ingest", "--landing", str(landing), *PARAMS]) == 1
    err = capsys.readouterr().err.replace("\n", "")
    assert "no space left on the device" in err and str(small_disk) in err, err
    assert not (small_disk / "b1" / "report.json").exists()  # the batch is not committed
    assert not [p for p in small_disk.rglob("*") if p.is_file() and ".tmp" in p.name]

    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    assert main(["ingest", "--landing", str(landing), *PARAMS]) == 0
    assert_invariants(state_home, {"b1": sent})
    # The same raw zone a run with room all along makes.
    clean = tmp_path / "clean"
    monkeypatch.setenv("SKINRISK_HOME", str(clean))
    assert main(["ingest", "--landing", str(landing), *PARAMS]) == 0
    ids = sorted(p.name for p in (small_disk / "b1" / "images").iterdir())
    assert ids == sorted(p.name for p in (data_dir(clean) / "raw" / "b1" / "images").iterdir())

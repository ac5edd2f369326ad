"""The private store and the quarantine are private by construction (0700 folders, 0600 files)
whatever the umask, and a zone open to others is refused with the fix."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout
from skinrisk.permissions import (
    is_exposed,
    make_private_dir,
    make_private_file,
    require_private,
    require_private_zones,
)
from skinrisk.storage.landing import LocalBatch
from skinrisk.storage.private import PrivateStore
from skinrisk.storage.rawzone import RawZone


@pytest.fixture(autouse=True)
def _common_umask() -> Iterator[None]:
    """The umask most systems start processes with: files 0644, folders 0755 by default."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_is_exposed_reads_group_and_other_bits_only() -> None:
    assert not is_exposed(stat.S_IFDIR | 0o700) and not is_exposed(stat.S_IFREG | 0o600)
    assert is_exposed(0o640) and is_exposed(0o604) and is_exposed(0o710)


def test_private_helpers_create_private_and_leave_existing_paths_alone(tmp_path: Path) -> None:
    make_private_dir(tmp_path / "home" / "zone")
    make_private_file(tmp_path / "home" / "zone" / "f")
    assert mode(tmp_path / "home") == 0o755  # only the zone itself is made private
    assert (mode(tmp_path / "home" / "zone"), mode(tmp_path / "home" / "zone" / "f")) == (
        0o700, 0o600)
    (tmp_path / "old").mkdir()
    make_private_dir(tmp_path / "old")
    assert mode(tmp_path / "old") == 0o755  # judged by require_private, never tightened


def test_store_and_its_wal_files_are_private_under_umask_022(tmp_path: Path) -> None:
    folder = tmp_path / "state" / "private"
    with PrivateStore(folder / "identity.sqlite") as store:
        store.surrogate_patient("h1", "MRN-1")
        store.record_files("b1", [{"file_name": "a.jpg", "line": 2, "received_sha256": None,
                                   "outcome": "accepted", "image_id": "ab" * 32,
                                   "quarantine_id": None, "reason": None}])
        files = sorted(p.name for p in folder.iterdir())
        assert files == ["identity.sqlite", "identity.sqlite-shm", "identity.sqlite-wal"]
        assert mode(folder) == 0o700
        assert {name: mode(folder / name) for name in files} == dict.fromkeys(files, 0o600)
    with PrivateStore(folder / "identity.sqlite") as store:  # reopening is fine
        assert store.files_named("a.jpg")[0]["image_id"] == "ab" * 32


def test_a_store_file_opened_up_is_refused_naming_it_and_the_fix(tmp_path: Path) -> None:
    db = tmp_path / "private" / "identity.sqlite"
    PrivateStore(db).close()
    db.chmod(0o644)
    with pytest.raises(SkinriskError, match=r"identity\.sqlite is open to other users "
                       r"\(mode 644, want 600\).*chmod -R go-rwx .*private") as caught:
        PrivateStore(db)
    assert "\n" not in str(caught.value)


def test_a_store_folder_made_by_an_earlier_version_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "private"
    folder.mkdir()  # 0755, as versions before the private zones made it
    with pytest.raises(SkinriskError, match=r"private is open to other users \(mode 755"):
        PrivateStore(folder / "identity.sqlite")
    assert not (folder / "identity.sqlite").exists()  # refused before anything was written


def test_quarantined_files_and_batch_folders_are_private(tmp_path: Path) -> None:
    landing = tmp_path / "landing" / "b1"
    landing.mkdir(parents=True)
    (landing / "big.jpg").write_bytes(b"x" * 100)
    raw = RawZone(tmp_path / "raw", tmp_path / "quarantine")
    assert raw.keep_quarantined("b1", "q00001", ".jpg", b"refused") == "b1/q00001.jpg"
    target, relative = raw.quarantine_target("b1", "q00002", ".jpg")
    assert relative == "b1/q00002.jpg" and mode(target.parent) == 0o700
    LocalBatch(landing).copy_to("big.jpg", target)  # how ingest streams a file it never loaded
    raw.keep_quarantined("b2", "q00001", ".png", b"refused")
    zone = tmp_path / "quarantine"
    assert [mode(p) for p in (zone, zone / "b1", zone / "b2")] == [0o700] * 3
    assert mode(zone / "b1" / "q00001.jpg") == 0o600 and mode(zone / "b2" / "q00001.png") == 0o600
    assert target.read_bytes() == b"x" * 100


@pytest.mark.ml  # commit writes Parquet (pyarrow)
def test_a_committed_batch_publishes_its_quarantined_files_0600(tmp_path: Path) -> None:
    raw = RawZone(tmp_path / "raw", tmp_path / "quarantine")
    target, _ = raw.quarantine_target("b1", "q00001", ".bin")
    target.write_bytes(b"streamed under the umask")  # a copy_to that forgot the mode
    raw.commit("b1", [], [], {"ingested_at": "2024-01-01T00:00:00+00:00"})
    assert mode(target) == 0o600


def test_a_quarantine_file_opened_up_is_refused_at_the_next_quarantine_write(
        tmp_path: Path) -> None:
    RawZone(tmp_path / "raw", tmp_path / "q").keep_quarantined("b1", "q00001", ".jpg", b"r")
    (tmp_path / "q" / "b1" / "q00001.jpg").chmod(0o644)
    with pytest.raises(SkinriskError, match=r"q00001\.jpg is open to other users"):
        RawZone(tmp_path / "raw", tmp_path / "q").keep_quarantined("b2", "q00001", ".jpg", b"r")


def test_the_stage_preflight_checks_both_zones_and_accepts_a_fresh_state(
        tmp_path: Path) -> None:
    layout = StateLayout(tmp_path / "state")
    require_private_zones(layout)  # nothing there yet: nothing to refuse
    PrivateStore(layout.private / "identity.sqlite").close()
    RawZone(layout.raw, layout.quarantine).keep_quarantined("b1", "q00001", ".jpg", b"r")
    require_private_zones(layout)
    (layout.quarantine / "b1").chmod(0o755)
    with pytest.raises(SkinriskError, match=r"quarantine/b1 is open .*chmod -R go-rwx "):
        require_private_zones(layout)


def test_require_private_ignores_links_and_missing_optional_files(tmp_path: Path) -> None:
    make_private_dir(tmp_path / "zone")
    (tmp_path / "zone" / "link").symlink_to(tmp_path)  # a link's own mode is always 777
    require_private(tmp_path / "zone")
    require_private(tmp_path / "zone", [tmp_path / "zone" / "absent-wal"])


def test_an_old_state_folder_gets_one_fix_for_both_zones(tmp_path: Path) -> None:
    layout = StateLayout(tmp_path / "state")
    for zone in layout.private_zones:
        zone.mkdir(parents=True)  # 0755, as versions before the private zones made them
    with pytest.raises(SkinriskError) as caught:
        require_private_zones(layout)
    assert str(caught.value).endswith(f"chmod -R go-rwx {layout.private} {layout.quarantine} "
                                      "(and check who may have read it), then rerun")
    for zone in layout.private_zones:
        zone.chmod(0o700)  # what the chmod -R of the fix does here
    require_private_zones(layout)

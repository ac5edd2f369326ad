"""Clone-mode data sessions: where ingest may keep refused files."""

from __future__ import annotations

from pathlib import Path

import pytest

from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout
from skinrisk.versioning.session import quarantine_url


@pytest.mark.parametrize(("url", "why"), [
    ("", "needs SKINRISK_QUARANTINE_URL"),
    ("{home}/refused", "needs SKINRISK_QUARANTINE_URL"),  # emptied with the disk
    ("{work}/quarantine", "inside the working prefix"),  # every task reads it
    ("{dvc}", "inside the working prefix, the DVC remote"),
    ("s3://landing/incoming/refused", "or the landing zone"),
])
def test_refused_files_need_a_store_of_their_own(tmp_path: Path, url: str, why: str) -> None:
    layout = StateLayout(tmp_path / "home", work_url=str(tmp_path / "work"), clones=True)
    places = {"home": tmp_path / "home", "work": tmp_path / "work", "dvc": tmp_path / "dvc"}
    env = {"SKINRISK_QUARANTINE_URL": url.format(**places), "SKINRISK_DVC_REMOTE":
           str(places["dvc"]), "SKINRISK_LANDING": "s3://landing/incoming/"}
    with pytest.raises(SkinriskError, match=why):
        quarantine_url(layout, env)


def test_a_private_store_outside_the_disk_is_taken(tmp_path: Path) -> None:
    layout = StateLayout(tmp_path / "home", work_url="s3://work/pipeline", clones=True)
    env = {"SKINRISK_QUARANTINE_URL": "s3://skinrisk-quarantine/files"}
    assert quarantine_url(layout, env) == "s3://skinrisk-quarantine/files"

"""Which landed batches ingest takes, and the ledger event each outcome leaves."""

from __future__ import annotations

from pathlib import Path

import pytest

from skinrisk.errors import SkinriskError
from skinrisk.ingest.refusals import outcome_event, scan, still_refused
from skinrisk.ingest.runner import BatchOutcome
from skinrisk.ledger import Event
from skinrisk.storage.landing import LocalLanding


def _landing(tmp_path: Path) -> LocalLanding:
    for name, ready in (("hosp-a-1", True), ("hosp-a-2", False), ("not a batch!", True)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "manifest.csv").write_text("image_id\n")
        if ready:
            (folder / "_READY").write_text("{}")
    return LocalLanding(tmp_path)


def test_a_scan_sorts_batches_by_state_and_names_what_is_no_batch(tmp_path: Path) -> None:
    found = scan(_landing(tmp_path), None)
    assert (found.ready, found.waiting, found.invalid) == (["hosp-a-1"], ["hosp-a-2"],
                                                           ["not a batch!"])
    only = scan(LocalLanding(tmp_path), ["hosp-a-2"])
    assert (only.ready, only.waiting) == ([], ["hosp-a-2"])
    with pytest.raises(SkinriskError, match="--batch hosp-b-1: no such batch"):
        scan(LocalLanding(tmp_path), ["hosp-b-1"])


def test_a_batch_is_still_refused_only_in_the_state_it_was_refused_in(tmp_path: Path) -> None:
    from skinrisk.ingest.refusals import listing_fingerprint

    zone = _landing(tmp_path)
    refused_state = listing_fingerprint(zone.open_batch("hosp-a-1").files())
    assert still_refused(zone, "hosp-a-1", {refused_state})
    assert not still_refused(zone, "hosp-a-1", set())
    (tmp_path / "hosp-a-1" / "new.jpg").write_bytes(b"\xff\xd8")  # changed since: try again
    assert not still_refused(zone, "hosp-a-1", {refused_state})
    assert not still_refused(zone, "hosp-gone", {refused_state})  # ingest says why


def test_each_outcome_leaves_its_event_once() -> None:
    report = {"files_in": 3, "accepted": 2, "quarantined_files": 1, "by_reason": {"blur": 1},
              "manifest_sha256": "m", "images_sha256": "i", "received_at": "not logged"}
    refused = outcome_event(BatchOutcome("b", "refused", "why"), "s3://l/", "f1", False)
    assert refused == (Event.BATCH_REFUSED, {"batch_id": "b", "landing": "s3://l/",
                                             "fingerprint": "f1"})
    ingested = outcome_event(BatchOutcome("b", "ingested", "", report), "s3://l/", "f", False)
    assert ingested is not None and ingested[0] == Event.BATCH_INGESTED
    assert ingested[1] == {"batch_id": "b", "landing": "s3://l/", "files_in": 3, "accepted": 2,
                           "quarantined_files": 1, "by_reason": {"blur": 1},
                           "manifest_sha256": "m", "images_sha256": "i"}
    # A committed batch seen again: its event only when the ledger lacks it (a cut run).
    assert outcome_event(BatchOutcome("b", "unchanged", "", report), "l", "f", True) is None
    assert outcome_event(BatchOutcome("b", "unchanged", "", report), "l", "f", False)[0] == (
        Event.BATCH_INGESTED)
    for status in ("waiting", "failed", "skipped"):
        assert outcome_event(BatchOutcome("b", status, "m"), "l", "f", False) is None

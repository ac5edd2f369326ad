"""Which landed batches ingest takes: the ready ones, except those refused before unchanged.

Refused batches are refused once: the ledger remembers the refusal and the batch's state.

A batch refused for what it is (format, a changed resend, never completed, a link in place of
its folder) stays in the landing zone: nothing is deleted. Later runs skip it with a warning as
long as its listing (a link: the link's own state) is the one that was refused, so one bad batch
neither blocks the others nor fails every later run; any change to it (a fix in place, a new
file, the folder itself in place of the link) makes it a candidate again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from skinrisk.batch import is_batch_id
from skinrisk.errors import SkinriskError
from skinrisk.ingest.runner import BatchOutcome
from skinrisk.ledger import Event
from skinrisk.storage.landing import FileInfo, Landing, NotABatchFolder


def listing_fingerprint(listing: Mapping[str, FileInfo]) -> str:
    """The batch's state as its listing shows it: names, kinds and signatures (no reads)."""
    lines = sorted(f"{name}\0{info.kind}\0{info.size}\0{info.signature}"
                   for name, info in listing.items())
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def entry_fingerprint(entry: FileInfo) -> str:
    """A landing entry refused whole (a link where the batch folder should be): its own state.
    No listing of a real batch has an entry named "", so the two never collide."""
    return listing_fingerprint({"": entry})


def refused_batches(entries: Iterable[dict[str, Any]]) -> dict[str, set[str]]:
    """batch id -> the listing fingerprints it was refused in (ledger entries, oldest first)."""
    refused: dict[str, set[str]] = {}
    for entry in entries:
        if entry["event"] == Event.BATCH_REFUSED:
            refused.setdefault(entry["data"]["batch_id"], set()).add(
                entry["data"]["fingerprint"])
    return refused


def ingested_batches(entries: Iterable[dict[str, Any]]) -> set[str]:
    """The batch ids the ledger records as ingested."""
    return {e["data"]["batch_id"] for e in entries if e["event"] == Event.BATCH_INGESTED}


def still_refused(zone: Landing, batch_id: str, fingerprints: set[str]) -> bool:
    """Whether the batch is in a state it was refused in (``fingerprints``), so ingest skips
    it; a batch that cannot be listed now (removed since the listing, ...) is tried: ingest
    then says why."""
    if not fingerprints:
        return False
    try:
        return listing_fingerprint(zone.open_batch(batch_id).files()) in fingerprints
    except NotABatchFolder as exc:
        return entry_fingerprint(exc.entry) in fingerprints
    except SkinriskError:
        return False


def outcome_event(outcome: BatchOutcome, landing: str, fingerprint: str,
                  logged: bool) -> tuple[Event, dict[str, Any]] | None:
    """The ledger event of one batch's ingest, if it needs one: a refusal (once per batch
    state: the caller skips a state refused before), or the batch ingested. ``logged``: its
    batch_ingested event is in the ledger already; a committed batch without one (a run cut
    between the commit and the append: killed, or its database lost) gets it now, so the
    ledger names every batch in the raw zone."""
    if outcome.status == "refused":
        return Event.BATCH_REFUSED, {"batch_id": outcome.batch_id, "landing": landing,
                                     "fingerprint": fingerprint}
    if outcome.status == "ingested" or (outcome.status == "unchanged" and not logged):
        report = outcome.report
        return Event.BATCH_INGESTED, {
            "batch_id": outcome.batch_id, "landing": landing,
            **{k: report.get(k) for k in ("files_in", "accepted", "quarantined_files",
                                          "by_reason", "manifest_sha256", "images_sha256")}}
    return None


@dataclass(frozen=True)
class Scan:
    """A landing zone's batches by state: the ready ones to ingest, those still without their
    ready marker, and entries whose names are no batch id (never read)."""

    ready: list[str]
    waiting: list[str]
    invalid: list[str]


def scan(zone: Landing, wanted: list[str] | None) -> Scan:
    """The zone's batches (only ``wanted`` ones, when given: each must be there)."""
    entries = zone.batch_ids()
    listing = {name: ready for name, ready in entries if is_batch_id(name)}
    for batch_id in wanted or []:
        if batch_id not in listing:
            raise SkinriskError(f"--batch {batch_id}: no such batch in {zone.uri}")
    chosen = {b: ready for b, ready in listing.items() if not wanted or b in wanted}
    return Scan(ready=[b for b, ready in chosen.items() if ready],
                waiting=[b for b, ready in chosen.items() if not ready],
                invalid=[name for name, _ in entries if not is_batch_id(name)])

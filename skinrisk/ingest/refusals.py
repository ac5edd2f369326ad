"""Refused batches are refused once: the ledger remembers the refusal and the batch's state.

A batch refused for what it is (format, a changed resend, never completed, a link in place of
its folder) stays in the landing zone: nothing is deleted. Later runs skip it with a warning as
long as its listing (a link: the link's own state) is the one that was refused, so one bad batch
neither blocks the others nor fails every later run; any change to it (a fix in place, a new
file, the folder itself in place of the link) makes it a candidate again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from skinrisk.ledger import Event
from skinrisk.storage.landing import FileInfo


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

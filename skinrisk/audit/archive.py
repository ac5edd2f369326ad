"""The ledger's copies beside the data: write-once snapshots that anchor the local chain.

A hash chain shows an edit, a deletion or a reordering, but not a ledger rewritten from the
first entry with every hash recomputed. So the ledger is copied, whole, next to the dataset
versions: `ledger/<seq>-<hash>.jsonl` in the DVC remote (a folder, or an S3 prefix; an S3
bucket with Object Lock in compliance mode makes each copy undeletable for its retention).
A name is never written twice with other content. `audit verify` then checks that the local
ledger still begins with the newest copy, entry for entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skinrisk import ledger
from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout
from skinrisk.localfs import exclusive_lock
from skinrisk.storage.objects import ObjectConflict, open_store

ARCHIVE_VARIABLE = "SKINRISK_LEDGER_ARCHIVE"
PREFIX = "ledger/"
NAME = re.compile(r"^(\d{8})-([0-9a-f]{64})\.jsonl$")


@dataclass(frozen=True)
class Anchor:
    ok: bool
    snapshot: str | None  # the copy compared with; None when none exists yet
    entries: int = 0
    first_bad: int | None = None
    why: str = ""


def archive_location(dvc_remote: str, environ: dict[str, str]) -> str:
    """SKINRISK_LEDGER_ARCHIVE (folder or s3://bucket/prefix/), else beside the DVC objects."""
    chosen = environ.get(ARCHIVE_VARIABLE)
    if chosen:
        return chosen.rstrip("/") + "/"
    return dvc_remote.rstrip("/") + "/" + PREFIX


def ledger_archive(layout: StateLayout) -> str:
    """Where this installation archives its ledger."""
    from skinrisk.versioning.workspace import dvc_remote

    return archive_location(dvc_remote(layout), dict(os.environ))


def snapshot_name(lines: list[bytes]) -> str:
    last = json.loads(lines[-1])
    return f"{last['seq']:08d}-{last['hash']}.jsonl"


def publish_ledger(layout: StateLayout, location: str) -> str | None:
    """Copy this installation's ledger (a file, or PostgreSQL's rows as the same lines)."""
    from skinrisk.ledger import lines

    return publish_lines(lines(layout), location)


def publish(ledger_file: Path, location: str) -> str | None:
    """Copy the ledger file as it is now; returns the copy's name (None for an empty ledger)."""
    return publish_lines(_snapshot(ledger_file), location)


def publish_lines(lines: list[bytes], location: str) -> str | None:
    if not lines:
        return None
    name, body = snapshot_name(lines), b"".join(lines)
    try:
        open_store(location).put_if_absent(name, body)  # the same copy again writes nothing
    except ObjectConflict:
        raise SkinriskError(f"{location}{name} already exists with other content: the "
                            "local ledger and its archived copy disagree; run "
                            "`skinrisk audit verify`") from None
    return name


def _snapshot(ledger_file: Path) -> list[bytes]:
    """The ledger's lines, read under its lock: never a line an appender is half-way through."""
    if not ledger_file.is_file():
        return []
    # The appenders' lock: StateLayout.locks / "ledger.lock", the ledger being <home>/ledger/.
    with exclusive_lock(ledger_file.parent.parent / "locks" / "ledger.lock"):
        return ledger_file.read_bytes().splitlines(keepends=True)


def check_ledger_anchor(layout: StateLayout, location: str) -> Anchor:
    """check_anchor on this installation's ledger, whichever backend holds it."""
    from skinrisk.ledger import lines

    return check_anchor_lines([line.rstrip(b"\n") for line in lines(layout)], location)


def check_anchor(ledger_file: Path, location: str) -> Anchor:
    local = ledger_file.read_bytes().splitlines() if ledger_file.is_file() else []
    return check_anchor_lines(local, location)


def check_anchor_lines(local: list[bytes], location: str) -> Anchor:
    """Every archived copy is named by its last entry's sequence number and hash; a verified
    chain that holds that hash at that position holds the whole copy. Every copy counts, not
    only the newest: a forger can add a copy, but not remove the true ones (Object Lock)."""
    store = open_store(location)
    copies = sorted((int(m[1]), m[2], n) for n in store.list() if (m := NAME.match(n)))
    if not copies:
        return Anchor(True, None, why="no archived copy yet")
    hashes = [_hash(line) for line in local]
    for seq, digest, name in copies:
        if seq > len(hashes):
            return Anchor(False, name, seq, len(hashes) + 1,
                          f"the local ledger ends at entry {len(hashes)}; the archived copy "
                          f"{name} holds {seq} (entries were removed)")
        if hashes[seq - 1] != digest:
            archived = [_hash(line) for line in store.get(name).splitlines()]
            first = next((i for i, (a, b) in enumerate(zip(archived, hashes, strict=False), start=1)
                          if a != b), seq)
            return Anchor(False, name, seq, first, f"entry {first} differs from the archived "
                          f"copy {name} (the ledger was rewritten)")
    return Anchor(True, copies[-1][2], copies[-1][0])


def _hash(line: bytes) -> Any:
    try:
        return json.loads(line).get("hash")
    except json.JSONDecodeError:
        return hashlib.sha256(line).hexdigest()


def require_intact(layout: StateLayout, archive: str | None = None) -> None:
    """Refuse to go on (promotion) when the ledger does not verify, or no longer begins with
    its newest archived copy (given the archive's location)."""
    verdict = ledger.check(layout)
    first_bad, why = verdict.first_bad, verdict.why
    if verdict.ok and archive is not None:
        anchor = check_ledger_anchor(layout, archive)
        first_bad, why = anchor.first_bad, anchor.why
    if first_bad is not None:
        raise SkinriskError(f"the audit ledger {ledger.describe(layout)} fails verification at "
                            f"entry {first_bad}: {why}. Nothing was done; investigate with "
                            "`skinrisk audit verify`.")

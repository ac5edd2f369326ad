"""`skinrisk ingest`: every ready batch in the landing zone into the raw zone, exactly once."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from pipelines.common import PARAMS_OPTION, err, fail, load_params, out, run_app
from skinrisk import ledger
from skinrisk.batch import BATCH_ID_RULE, BatchFormatError, is_batch_id
from skinrisk.config import IngestParams
from skinrisk.errors import SkinriskError
from skinrisk.imaging.deidentify import Limits
from skinrisk.ingest.refusals import (
    entry_fingerprint,
    ingested_batches,
    listing_fingerprint,
    outcome_event,
    refused_batches,
    scan,
    still_refused,
)
from skinrisk.ingest.runner import Arrivals, BatchOutcome, BatchRefused, ingest_batch
from skinrisk.layout import StateLayout
from skinrisk.permissions import require_private_zones
from skinrisk.records import IdentityStore, open_private_store
from skinrisk.records.locks import named_lock
from skinrisk.storage.landing import Landing, NotABatchFolder, open_landing
from skinrisk.storage.rawzone import RawZone
from skinrisk.versioning.session import data_session, published_batches
from skinrisk.vocabulary import describe_value

LANDING_VARIABLE = "SKINRISK_LANDING"


def _batch_ids(values: list[str] | None) -> list[str] | None:
    for value in values or []:
        if not is_batch_id(value):
            raise typer.BadParameter(f"{value!r} is not a batch id: use {BATCH_ID_RULE}")
    return values


def command(
    landing: Annotated[str | None, typer.Option(help="s3://bucket/prefix or a folder.",
                       show_default="$SKINRISK_LANDING, else $SKINRISK_HOME/landing")] = None,
    batch: Annotated[list[str] | None, typer.Option(
        help="Only these batch ids (repeatable); a batch refused before is tried again.",
        show_default="every ready batch", callback=_batch_ids)] = None,
    params_path: Path = PARAMS_OPTION,
) -> int:
    """Ingest ready batches: verify, de-identify, store by content; quarantine the rest.
    Exit 1 only for what this run newly found (a refusal, a failed transfer); batches
    refused before, and unchanged since, are skipped with a warning."""
    params = load_params(params_path).ingest
    layout = StateLayout.from_env()
    require_private_zones(layout)  # before a byte is read: the store and quarantine are private
    zone = open_landing(landing or os.environ.get(LANDING_VARIABLE) or str(layout.landing))
    raw = RawZone(layout.raw, layout.quarantine)
    # One writer of the raw zone at a time: a second ingest (an Airflow retry, a person)
    # waits here, then finds the batches committed and does nothing.
    with data_session(layout, "ingest"), named_lock(layout, "ingest") as lock, \
            open_private_store(layout) as private:
        known = raw.known_images()  # read once; each committed batch adds its images
        events = list(ledger.read(layout))
        refused = refused_batches(events)
        logged = ingested_batches(events)
        outcomes = [_one(zone, raw, private, batch_id, params, known,
                         set() if batch else refused.get(batch_id, set()), logged,
                         lock.confirm)
                    for batch_id in _ready(zone, batch)]
    out.print(_table(outcomes, zone.uri))
    return 1 if any(o.status in ("refused", "failed") for o in outcomes) else 0


def pending_command(
    landing: Annotated[str | None, typer.Option(help="s3://bucket/prefix or a folder.",
                       show_default="$SKINRISK_LANDING, else $SKINRISK_HOME/landing")] = None,
) -> None:
    """List ready batches not yet in the raw zone and not refused before in their present
    state; the last line is a JSON list (the ingest DAG maps one task per entry)."""
    import json

    layout = StateLayout.from_env()
    zone = open_landing(landing or os.environ.get(LANDING_VARIABLE) or str(layout.landing))
    # With SKINRISK_WORKSPACE=clone this disk holds no raw zone: the data branch says what is
    # in it (not the ledger, whose event comes before the stage's push).
    committed = (published_batches(layout) if layout.clones
                 else set(RawZone(layout.raw, layout.quarantine).committed_batches()))
    refused = refused_batches(ledger.read(layout))
    pending = [b for b in _ready(zone, None) if b not in committed
               and not still_refused(zone, b, refused.get(b, set()))]
    out.print(f"pending in {zone.uri}: {', '.join(pending) or 'none'}")
    print(json.dumps(pending))


def _ready(zone: Landing, wanted: list[str] | None) -> list[str]:
    found = scan(zone, wanted)
    if found.invalid:  # named by shape only: an entry's name is text the sender chose
        names = "; ".join(describe_value(n) for n in found.invalid[:5])
        err.print(f"warning: {len(found.invalid)} landing entr(y/ies) in {zone.uri} are not "
                  f"valid batch ids and were not read ({names}). Rename each to "
                  f"{BATCH_ID_RULE}")
    if found.waiting:
        err.print(f"waiting for {len(found.waiting)} batch(es) without _READY: "
                  f"{', '.join(found.waiting)}")
    return found.ready


def _one(zone: Landing, raw: RawZone, private: IdentityStore, batch_id: str,
         params: IngestParams, known: dict[str, str], refused: set[str],
         logged: set[str], confirm: Callable[[], None]) -> BatchOutcome:
    """``logged``: batches whose batch_ingested event is in the ledger; ``confirm``: the ingest
    lock's check, made before the batch's commit."""
    limits = Limits(int(params.max_file_mb * 2**20), int(params.max_megapixels * 1e6),
                    params.jpeg_quality)
    arrivals = Arrivals(params.ready_grace_minutes * 60, time.time(), params.ethnicity_groups)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    fingerprint = ""
    with Progress(console=err, transient=True, disable=not err.is_terminal) as progress:
        task = progress.add_task(f"ingest {batch_id}", total=None)
        try:
            reader = zone.open_batch(batch_id)
            listing = reader.files()
            fingerprint = listing_fingerprint(listing)
            if fingerprint in refused:
                return _skipped(batch_id)
            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            outcome = ingest_batch(reader, raw, private, limits, now, zone.uri, arrivals,
                                   advance, known, listing, confirm)
        except NotABatchFolder as exc:  # a link in place of the folder: refused once, too
            fingerprint = entry_fingerprint(exc.entry)
            if fingerprint in refused:
                return _skipped(batch_id)
            outcome = BatchOutcome(batch_id, "refused", str(exc))
        except (BatchRefused, BatchFormatError) as exc:  # this batch only: the others still run
            outcome = BatchOutcome(batch_id, "refused", str(exc))
        except SkinriskError as exc:  # transient (a transfer, a batch changing while read)
            outcome = BatchOutcome(batch_id, "failed", str(exc))
    _announce(outcome, zone.uri, fingerprint, batch_id in logged)
    return outcome


def _skipped(batch_id: str) -> BatchOutcome:
    message = (f"batch {batch_id} was refused before and has not changed since; skipped (see "
               "the ledger's batch_refused event; `skinrisk ingest --batch "
               f"{batch_id}` tries it again)")
    err.print(f"warning: {message}")
    return BatchOutcome(batch_id, "skipped", message)


def _announce(outcome: BatchOutcome, landing: str, fingerprint: str, logged: bool) -> None:
    """Print what happened and write its ledger event (skinrisk.ingest.refusals.outcome_event;
    ``logged``: the batch's batch_ingested event is in the ledger already)."""
    if outcome.status in ("refused", "failed"):
        fail(outcome.message)
    elif outcome.status == "waiting":
        err.print(f"warning: {outcome.message}")
    event = outcome_event(outcome, landing, fingerprint, logged)
    if event is not None:
        ledger.record(StateLayout.from_env(), *event)


def _table(outcomes: list[BatchOutcome], uri: str) -> Table:
    """The reconciliation: every file in ends accepted or quarantined."""
    table = Table(title=f"ingest from {uri}")
    for column in ("batch", "status", "files in = accepted + quarantined", "quarantine reasons"):
        table.add_column(column)
    for o in outcomes:
        r = o.report
        counts = (f"{r['files_in']} = {r['accepted']} + {r['quarantined_files']}" if r else "—")
        reasons = "\n".join(f"{k} {v}" for k, v in r.get("by_reason", {}).items()) or "—"
        table.add_row(o.batch_id, o.status, counts, reasons)
    return table


def main(argv: list[str] | None = None) -> int:
    return run_app(command, argv, prog_name="skinrisk ingest")


if __name__ == "__main__":
    raise SystemExit(main())

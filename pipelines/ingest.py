"""`skinrisk ingest`: every ready batch in the landing zone into the raw zone, exactly once."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from pipelines.common import PARAMS_OPTION, err, fail, load_params, out, run_app
from skinrisk import ledger
from skinrisk.config import IngestParams
from skinrisk.errors import SkinriskError
from skinrisk.imaging.deidentify import Limits
from skinrisk.ingest.runner import BatchOutcome, ingest_batch
from skinrisk.layout import StateLayout
from skinrisk.localfs import exclusive_lock
from skinrisk.storage.landing import Landing, open_landing
from skinrisk.storage.private import PrivateStore
from skinrisk.storage.rawzone import RawZone

LANDING_VARIABLE = "SKINRISK_LANDING"


def command(
    landing: Annotated[str | None, typer.Option(help="s3://bucket/prefix or a folder "
                       "[default: $SKINRISK_LANDING, else $SKINRISK_HOME/landing].")] = None,
    batch: Annotated[list[str] | None, typer.Option(help="Only these batch ids "
                     "(repeatable) [default: every ready batch].")] = None,
    params_path: Path = PARAMS_OPTION,
) -> int:
    """Ingest ready batches: verify, de-identify, store by content; quarantine the rest."""
    params = load_params(params_path).ingest
    layout = StateLayout.from_env()
    zone = open_landing(landing or os.environ.get(LANDING_VARIABLE) or str(layout.landing))
    raw = RawZone(layout.raw, layout.quarantine)
    # One writer of the raw zone at a time: a second ingest (an Airflow retry, a person)
    # waits here, then finds the batches committed and does nothing.
    with exclusive_lock(layout.locks / "ingest.lock"), PrivateStore(layout.private /
                                                                   "identity.sqlite") as private:
        known = raw.known_images()  # read once; each committed batch adds its images
        outcomes = [_one(zone, raw, private, batch_id, params, known)
                    for batch_id in _ready(zone, batch)]
    out.print(_table(outcomes, zone.uri))
    return 1 if any(o.status == "refused" for o in outcomes) else 0


def pending_command(
    landing: Annotated[str | None, typer.Option(help="s3://bucket/prefix or a folder "
                       "[default: $SKINRISK_LANDING, else $SKINRISK_HOME/landing].")] = None,
) -> None:
    """List ready batches not yet in the raw zone; the last line is a JSON list (the ingest
    DAG maps one task per entry)."""
    import json

    layout = StateLayout.from_env()
    zone = open_landing(landing or os.environ.get(LANDING_VARIABLE) or str(layout.landing))
    committed = set(RawZone(layout.raw, layout.quarantine).committed_batches())
    pending = [b for b in _ready(zone, None) if b not in committed]
    out.print(f"pending in {zone.uri}: {', '.join(pending) or 'none'}")
    print(json.dumps(pending))


def _ready(zone: Landing, wanted: list[str] | None) -> list[str]:
    listing = dict(zone.batch_ids())
    for batch_id in wanted or []:
        if batch_id not in listing:
            raise SkinriskError(f"batch {batch_id!r} is not in {zone.uri}")
    waiting = [b for b, ready in listing.items() if not ready and (not wanted or b in wanted)]
    if waiting:
        err.print(f"waiting for {len(waiting)} batch(es) without _READY: {', '.join(waiting)}")
    return [b for b, ready in listing.items() if ready and (not wanted or b in wanted)]


def _one(zone: Landing, raw: RawZone, private: PrivateStore, batch_id: str,
         params: IngestParams, known: dict[str, str]) -> BatchOutcome:
    limits = Limits(int(params.max_file_mb * 2**20), int(params.max_megapixels * 1e6),
                    params.jpeg_quality)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    reader = zone.open_batch(batch_id)
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task(f"ingest {batch_id}", total=None)
        try:
            outcome = ingest_batch(reader, raw, private, limits, now, zone.uri,
                                   lambda: progress.advance(task), known)
        except SkinriskError as exc:  # a batch-level refusal: the others still run
            outcome = BatchOutcome(batch_id, "refused", str(exc))
    if outcome.status == "refused":
        fail(outcome.message)
    if outcome.status == "ingested":
        report = outcome.report
        ledger.record(StateLayout.from_env(), "batch_ingested", {
            "batch_id": batch_id, "landing": zone.uri,
            **{k: report.get(k) for k in ("files_in", "accepted", "quarantined_files",
                                          "by_reason", "manifest_sha256", "images_sha256")}})
    return outcome


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

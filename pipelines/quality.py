"""`skinrisk quality`: score every ingested image once, decide, write the curated dataset."""

from __future__ import annotations

import json
from pathlib import Path

from rich.progress import Progress
from rich.table import Table

from pipelines.common import PARAMS_OPTION, err, load_params, out, run_app
from skinrisk import ledger
from skinrisk.layout import StateLayout
from skinrisk.localfs import atomic_write, exclusive_lock
from skinrisk.quality.runner import QualityOutcome, dataset_images, run_quality
from skinrisk.quality.sheets import sheets_by_reason
from skinrisk.storage.rawzone import RawZone


def command(params_path: Path = PARAMS_OPTION) -> None:
    """Check image quality and the paper's data filter; quarantine failures with scores."""
    params = load_params(params_path).quality
    layout = StateLayout.from_env()
    raw = RawZone(layout.raw, layout.quarantine)
    with exclusive_lock(layout.locks / "quality.lock"), \
            Progress(console=err, transient=True) as progress:
        images = dataset_images(raw)
        task = progress.add_task("quality", total=len(images))
        outcome = run_quality(raw, images, layout.cache, layout.curated, params,
                              lambda: progress.advance(task))
        where = {r["image_id"]: (r["batch_id"], r["format"]) for r in images}
        # A DVC output of the stage: it exists even when nothing was quarantined.
        (layout.curated / "contact_sheets").mkdir(parents=True, exist_ok=True)
        for reason, png in sheets_by_reason(
                outcome.quarantined,
                lambda i: raw.image_path(where[i][0], i, where[i][1]).read_bytes()).items():
            atomic_write(layout.curated / "contact_sheets" / f"{reason}.png", png)
        report = _report(outcome, params.model_dump())
        atomic_write(layout.curated / "quality_report.json",
                     (json.dumps(report, indent=2) + "\n").encode())
        ledger.record(layout, "quality", {"images_in": outcome.images_in,
                                          "accepted": len(outcome.accepted),
                                          "quarantined": len(outcome.quarantined),
                                          "by_reason": outcome.by_reason})
    out.print(_table(outcome))
    out.print(f"curated dataset: {layout.curated / 'manifest.parquet'} · contact sheets: "
              f"{layout.curated / 'contact_sheets'}")


def _report(outcome: QualityOutcome, thresholds: dict) -> dict:
    # A function of the dataset and thresholds only (it is a DVC metric): how many images this
    # run had to score is printed, not recorded.
    return {"images_in": outcome.images_in, "accepted": len(outcome.accepted),
            "quarantined": len(outcome.quarantined), "by_reason": outcome.by_reason,
            "thresholds": thresholds}


def _table(outcome: QualityOutcome) -> Table:
    table = Table(title=f"quality: {outcome.images_in} in = {len(outcome.accepted)} accepted + "
                        f"{len(outcome.quarantined)} quarantined "
                        f"({outcome.scored_now} scored this run)")
    table.add_column("reason")
    table.add_column("images", justify="right")
    table.add_column("share", justify="right")
    for reason, count in outcome.by_reason.items():
        table.add_row(reason, str(count), f"{count / max(outcome.images_in, 1):.1%}")
    return table


def main(argv: list[str] | None = None) -> int:
    return run_app(command, argv, prog_name="skinrisk quality")


if __name__ == "__main__":
    raise SystemExit(main())

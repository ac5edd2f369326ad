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
from skinrisk.quality.runner import QualityOutcome, dataset_images, dataset_rows, run_quality
from skinrisk.quality.sheets import examples_by_reason, write_sheets
from skinrisk.storage.rawzone import RawZone


def command(params_path: Path = PARAMS_OPTION) -> None:
    """Check image quality and the paper's data filter; quarantine failures with scores."""
    params = load_params(params_path).quality
    layout = StateLayout.from_env()
    raw = RawZone(layout.raw, layout.quarantine)
    with exclusive_lock(layout.locks / "quality.lock"), \
            Progress(console=err, transient=True, disable=not err.is_terminal) as progress:
        images = dataset_images(raw)
        task = progress.add_task("quality", total=images.num_rows)
        outcome = run_quality(raw, images, layout.cache, layout.curated, params,
                              lambda: progress.advance(task))
        examples = examples_by_reason(outcome.quarantined, outcome.by_reason)
        where = dataset_rows(images, [i for shown in examples.values() for i, _ in shown])
        write_sheets(layout.curated / "contact_sheets", layout.cache, examples,
                     lambda i: raw.image_path(where[i][0], i, where[i][1]).read_bytes())
        report = _report(outcome, params.model_dump())
        atomic_write(layout.curated / "quality_report.json",
                     (json.dumps(report, indent=2) + "\n").encode())
        ledger.record(layout, "quality", {"images_in": outcome.images_in,
                                          "accepted": outcome.accepted,
                                          "quarantined": outcome.quarantined.num_rows,
                                          "by_reason": outcome.by_reason})
    out.print(_table(outcome))
    out.print(f"curated dataset: {layout.curated / 'manifest.parquet'} · contact sheets: "
              f"{layout.curated / 'contact_sheets'}")


def _report(outcome: QualityOutcome, thresholds: dict) -> dict:
    # A function of the dataset and thresholds only (it is a DVC metric): how many images this
    # run had to score is printed, not recorded.
    return {"images_in": outcome.images_in, "accepted": outcome.accepted,
            "quarantined": outcome.quarantined.num_rows, "by_reason": outcome.by_reason,
            "thresholds": thresholds}


def _table(outcome: QualityOutcome) -> Table:
    table = Table(title=f"quality: {outcome.images_in} in = {outcome.accepted} accepted + "
                        f"{outcome.quarantined.num_rows} quarantined "
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

"""`skinrisk quality`: score every ingested image once, decide, write the curated dataset."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.progress import Progress
from rich.table import Table

from pipelines.common import PARAMS_OPTION, err, load_params, out, run_app
from skinrisk import ledger
from skinrisk.catalog import CONTACT_SHEETS, CURATED_MANIFEST, QUALITY_REPORT, REVIEW
from skinrisk.config import QualityParams
from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout, project_root
from skinrisk.ledger import Event
from skinrisk.localfs import write_json
from skinrisk.quality.decide import expectations
from skinrisk.quality.overrides import Override, parse_overrides
from skinrisk.quality.review import measure_items, review_items, write_review
from skinrisk.quality.runner import QualityOutcome, dataset_images, dataset_rows, run_quality
from skinrisk.quality.sheets import examples_by_reason, write_sheets
from skinrisk.records.locks import named_lock
from skinrisk.storage.rawzone import RawZone
from skinrisk.versioning.session import data_session


def command(params_path: Path = PARAMS_OPTION) -> None:
    """Check image quality and the paper's data filter; quarantine failures with scores."""
    every = load_params(params_path)
    params, expect = every.quality, expectations(every)  # expect: floor, declared modalities
    layout = StateLayout.from_env()
    raw = RawZone(layout.raw, layout.quarantine)
    overrides = _overrides(params)
    with data_session(layout, "quality"), named_lock(layout, "quality"), \
            Progress(console=err, transient=True, disable=not err.is_terminal) as progress:
        images = dataset_images(raw)
        task = progress.add_task("quality", total=images.num_rows)
        outcome = run_quality(raw, images, layout.cache, layout.workspace, params,
                              lambda: progress.advance(task), overrides, expect)
        examples = examples_by_reason(outcome.quarantined, outcome.by_reason)
        read = _reader(raw, dataset_rows(images, outcome.quarantined["image_id"].to_pylist()
                                         + outcome.flagged["image_id"].to_pylist()))
        write_sheets(layout.workspace / CONTACT_SHEETS, layout.cache, examples, read)
        write_review(layout.workspace / REVIEW, layout.cache, review_items(
            outcome.quarantined, images, outcome.scores, params, expect.min_side_px, lazy=True,
            flagged=outcome.flagged),
            read, lambda chunk: measure_items(chunk, images, outcome.scores, params,
                                              expect.min_side_px),
            version=f"{params.model_dump_json()}:{expect.min_side_px}")
        report = _report(outcome, params)
        report["expectations"] = {"min_side_px": expect.min_side_px,
                                  "non_clinical_sources": sorted(expect.non_clinical_sources)}
        write_json(layout.workspace / QUALITY_REPORT, report)
        ledger.record(layout, Event.QUALITY, {"images_in": outcome.images_in,
                                          "accepted": outcome.accepted,
                                          "quarantined": outcome.quarantined.num_rows,
                                          "by_reason": outcome.by_reason,
                                          "kept_flagged": outcome.by_flag})
        _record_overrides(layout, outcome)
    out.print(_table(outcome, params))
    out.print(f"curated dataset: {layout.workspace / CURATED_MANIFEST} · contact sheets: "
              f"{layout.workspace / CONTACT_SHEETS} · review pages: "
              f"{layout.workspace / REVIEW / 'index.html'}")


def _reader(raw: RawZone, where: dict[str, tuple[str, str]]) -> Callable[[str], bytes]:
    def read(image_id: str) -> bytes:
        batch_id, fmt = where[image_id]
        return raw.image_path(batch_id, image_id, fmt).read_bytes()
    return read


def _overrides(params: QualityParams) -> list[Override]:
    if params.overrides_path is None:
        return []
    path = (project_root() or Path.cwd()) / params.overrides_path
    if not path.is_file():
        raise SkinriskError(f"overrides file {path} not found (params.yaml "
                            "quality.overrides_path); create it or set the key to null")
    return parse_overrides(path.read_text(encoding="utf-8"),
                           "csv" if path.suffix == ".csv" else "yaml", str(path))


def _record_overrides(layout: StateLayout, outcome: QualityOutcome) -> None:
    """One quality_override event per decision, however often the stage reruns."""
    done = {e["data"].get("override") for e in ledger.read(layout)
            if e["event"] == Event.QUALITY_OVERRIDE}
    for override, replaced in outcome.overridden:
        if override.digest not in done:
            ledger.record(layout, Event.QUALITY_OVERRIDE, {
                "override": override.digest, "image_id": override.image_id,
                "decision": override.decision,
                "reason": override.reason.value if override.reason else None,
                "filter_reasons": replaced,
                "filter_flags": outcome.override_flags.get(override.image_id, ""),
                "reviewer": override.reviewer,
                "date": override.date})
            done.add(override.digest)


def _report(outcome: QualityOutcome, params: QualityParams) -> dict:
    # A function of the dataset, thresholds and overrides only (it is a DVC metric): how many
    # images this run had to score is printed, not recorded. Without overrides it is what it
    # was before they existed.
    report = {"images_in": outcome.images_in, "accepted": outcome.accepted,
              "quarantined": outcome.quarantined.num_rows, "by_reason": outcome.by_reason,
              "kept_flagged": outcome.by_flag,
              "thresholds": params.model_dump(exclude={"overrides_path", "actions"}),
              "actions": params.actions}
    if params.overrides_path is not None:
        decisions = [o.decision for o, _ in outcome.overridden]
        report["overrides"] = {"path": params.overrides_path,
                               "accepted": decisions.count("accept"),
                               "rejected": decisions.count("reject")}
    return report


def _table(outcome: QualityOutcome, params: QualityParams) -> Table:
    # The totals as a line, not the title: a title wraps to the table's width.
    out.print(f"quality: {outcome.images_in} in = {outcome.accepted} accepted + "
              f"{outcome.quarantined.num_rows} quarantined ({outcome.scored_now} scored this "
              "run)", soft_wrap=True)
    table = Table()
    table.add_column("reason")
    table.add_column("images", justify="right")
    table.add_column("share", justify="right")
    table.add_column("action")
    for reason, count in outcome.by_reason.items():
        table.add_row(reason, str(count), f"{count / max(outcome.images_in, 1):.1%}",
                      "quarantined")
    for reason, count in outcome.by_flag.items():
        table.add_row(reason, str(count), f"{count / max(outcome.images_in, 1):.1%}",
                      "kept, ink painted out (train)" if params.actions.get(reason) == "inpaint"
                      else "kept, flagged")
    return table


def main(argv: list[str] | None = None) -> int:
    return run_app(command, argv, prog_name="skinrisk quality")


if __name__ == "__main__":
    raise SystemExit(main())

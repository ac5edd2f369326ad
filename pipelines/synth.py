"""`skinrisk synth`: a synthetic hospital batch (and its truth sidecar) in the landing zone."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from pipelines.common import PARAMS_OPTION, load_params, out, run_app
from pipelines.producers import refuse_complete_batch, write_batch
from skinrisk.batch import check_batch_id
from skinrisk.config import SynthParams
from skinrisk.layout import StateLayout
from skinrisk.localfs import atomic_write
from skinrisk.synth.cohort import TRUTH_COLUMNS, plan_cohort, render_cohort


def command(
    batch_id: Annotated[str | None, typer.Option(help="Batch id.",
                                                 show_default="synth-s<seed>")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Batch folder.",
                       show_default="$SKINRISK_HOME/landing/<batch id>")] = None,
    truth: Annotated[Path | None, typer.Option(help="Truth sidecar CSV.",
                     show_default="$SKINRISK_HOME/synth-truth/<batch id>.csv")] = None,
    images: Annotated[int | None, typer.Option(help="Number of photos.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    size: Annotated[str | None, typer.Option(help="Photo size WIDTHxHEIGHT, e.g. 320x240.")] = None,
    difficulty: Annotated[float | None, typer.Option(help="0 easy .. 1 hard.")] = None,
    defect: Annotated[list[str] | None, typer.Option(help="NAME=RATE, repeatable, e.g. "
                      "blur=0.1 (blur, dye, hair, tiny_lesion, exudate, corrupt, duplicate); "
                      "replaces the rates in params.yaml.")
                      ] = None,
    params_path: Path = PARAMS_OPTION,
) -> None:
    """Generate a synthetic cohort: params.yaml `synth:` with command-line overrides."""
    params = load_params(params_path, {"synth": _overrides(images, seed, size, difficulty,
                                                           defect)},
                         {"synth.width": "--size", "synth.height": "--size",
                          "synth.defect_rates": "--defect"}).synth
    batch_id = check_batch_id(batch_id or f"synth-s{params.seed}")
    layout = StateLayout.from_env()
    batch_dir = out_dir or layout.landing / batch_id
    truth_path = truth or layout.truth / f"{batch_id}.csv"
    refuse_complete_batch(batch_dir)
    write_synth_batch(params, batch_dir, truth_path)
    out.print(f"synth: wrote {params.images} photos to [bold]{batch_dir}[/], "
              f"truth in {truth_path}")


def write_synth_batch(params: SynthParams, batch_dir: Path, truth_path: Path) -> None:
    """Render photo by photo (never the whole cohort in memory); truth before the ready marker."""
    plan = plan_cohort(params)
    truth_rows: list[dict[str, str]] = []

    def files() -> Iterator[tuple[str, bytes]]:
        for photo in render_cohort(params, plan):
            truth_rows.append(photo.truth())
            yield photo.plan.row.file_name, photo.data

    def write_truth() -> None:
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=TRUTH_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(truth_rows)
        atomic_write(truth_path, text.getvalue().encode())

    write_batch(batch_dir, [p.row for p in plan], files(), f"synth {batch_dir.name}",
                before_publish=write_truth)


def _overrides(images: int | None, seed: int | None, size: str | None,
               difficulty: float | None, defects: list[str] | None) -> dict[str, Any]:
    values: dict[str, Any] = {"images": images, "seed": seed, "difficulty": difficulty}
    if size is not None:
        width, _, height = size.lower().partition("x")
        if not (width.isdigit() and height.isdigit()):
            raise typer.BadParameter(f"{size!r} is not WIDTHxHEIGHT, e.g. 320x240",
                                     param_hint="--size")
        values.update(width=int(width), height=int(height))
    if defects:
        rates: dict[str, float] = {}
        for item in defects:
            name, _, rate = item.partition("=")
            try:
                rates[name.strip()] = float(rate)
            except ValueError:
                raise typer.BadParameter(f"{item!r} is not NAME=RATE, e.g. blur=0.1",
                                         param_hint="--defect") from None
        values["defect_rates"] = rates
    return {k: v for k, v in values.items() if v is not None}


def main(argv: list[str] | None = None) -> int:
    return run_app(command, argv, prog_name="skinrisk synth")


if __name__ == "__main__":
    raise SystemExit(main())

"""`skinrisk demo`: the main job on the embedded defaults, with every stage that exists so far.

Idempotent: a batch already complete in the landing zone is kept, not regenerated.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.batch_check import check_batch_dir, stats_table
from pipelines.common import PARAMS_OPTION, load_params, out, run_app
from pipelines.data_status import command as data_status
from pipelines.import_pad import command as import_pad
from pipelines.import_pad import default_pad_dir
from pipelines.ingest import command as ingest
from pipelines.pack import command as pack
from pipelines.quality import command as quality
from pipelines.split import command as split
from pipelines.synth import write_synth_batch
from pipelines.validate import command as validate
from pipelines.version import command as version
from skinrisk.batch import READY_MARKER
from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout


def command(params_path: Path = PARAMS_OPTION) -> None:
    """Hospital batches through ingest, quality, validate, split and version."""
    params = load_params(params_path)
    layout = StateLayout.from_env()
    out.rule(f"skinrisk demo — state in {layout.home}")
    synth_dir = layout.landing / f"synth-s{params.synth.seed}"
    if (synth_dir / READY_MARKER).exists():
        out.print(f"synth: {synth_dir} is already complete; kept")
    else:
        write_synth_batch(params.synth, synth_dir, layout.truth / f"{synth_dir.name}.csv")
        out.print(f"synth: {params.synth.images} photos → {synth_dir}")
    pad_dir = default_pad_dir()
    if (layout.landing / "pad-ufes-20" / READY_MARKER).exists():
        out.print("import-pad: landing/pad-ufes-20 is already complete; kept")
    elif pad_dir is not None and (pad_dir / "metadata.csv").is_file():
        import_pad(source=pad_dir, params_path=params_path)
    else:
        out.print(f"[yellow]import-pad: PAD-UFES-20 not found at {pad_dir}; set "
                  "SKINRISK_PAD_DIR to include the real photos[/]")
    batches = sorted(p.parent for p in layout.landing.glob(f"*/{READY_MARKER}"))
    out.print(stats_table({b.name: check_batch_dir(b) for b in batches}))
    out.rule("ingest")
    if ingest(landing=str(layout.landing), params_path=params_path) != 0:
        raise SkinriskError("ingest refused a batch; see the message above")
    out.rule("quality")
    quality(params_path=params_path)
    out.rule("validate")
    if validate(params_path=params_path) != 0:
        raise SkinriskError("a batch failed validation; its report says why")
    out.rule("split")
    split(params_path=params_path)
    out.rule("pack")
    pack(params_path=params_path)
    out.rule("version")
    version(as_json=False)
    if data_status(repair=False) != 0:
        raise SkinriskError("the DVC remote does not hold every object; see above")
    out.print(f"landing zone {layout.landing} · raw zone {layout.raw} · quarantine "
              f"{layout.quarantine} · curated dataset and reports {layout.curated} · truth "
              f"sidecars {layout.truth}")


def main(argv: list[str] | None = None) -> int:
    return run_app(command, argv, prog_name="skinrisk demo")


if __name__ == "__main__":
    raise SystemExit(main())

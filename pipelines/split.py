"""`skinrisk split`: assign every curated image to train / held-out / cross-ethnic / OOD."""

from __future__ import annotations

import json
from pathlib import Path

from rich.table import Table

from pipelines.common import PARAMS_OPTION, err, load_params, out, run_app
from skinrisk.catalog import ASSIGNMENTS, CURATED_MANIFEST, SPLIT_SUMMARY, VALIDATION
from skinrisk.config import SplitParams
from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout
from skinrisk.localfs import write_json
from skinrisk.splitting.assign import SPLITS, SplitRule, assign_all, summarize
from skinrisk.storage.tables import read_rows, write_rows
from skinrisk.versioning.session import data_session


def command(params_path: Path = PARAMS_OPTION) -> None:
    """Split by patient (frozen forever by a salted hash); stop on any leakage."""
    params = load_params(params_path).split
    layout = StateLayout.from_env()
    with data_session(layout, "split"):
        _split(layout, params)


def _split(layout: StateLayout, params: SplitParams) -> None:
    manifest = layout.workspace / CURATED_MANIFEST
    if not manifest.is_file():
        raise SkinriskError("no curated dataset yet: run `skinrisk quality` first")
    rule = SplitRule(params.test_fraction, params.salt, params.cross_ethnic_sources,
                     params.source_modality, params.train_modalities)
    curated = read_rows(manifest)
    usable = _validated_batches(layout.workspace / VALIDATION)
    excluded = sorted({r["batch_id"] for r in curated} - usable)
    if excluded:  # fail closed: a batch enters the dataset only once validation passed it
        err.print(f"split: leaving out batch(es) not validated or failed: {', '.join(excluded)}")
    rows = assign_all([r for r in curated if r["batch_id"] in usable], rule)
    summary = {**summarize(rows, rule), "excluded_batches": excluded}
    write_rows(layout.workspace / ASSIGNMENTS, rows, _schema())
    write_json(layout.workspace / SPLIT_SUMMARY, summary)
    out.print(_table(summary))
    for modality, count in summary["left_out_by_modality"].items():
        out.print(f"split: left out of train (and every test set) {count} image(s) of modality "
                  f"{modality}: split.train_modalities is {list(params.train_modalities)}")


def _validated_batches(folder: Path) -> set[str]:
    return {p.parent.name for p in folder.glob("*/verdict.json")
            if json.loads(p.read_text())["status"] != "failed"}


def _schema():
    import pyarrow as pa

    return pa.schema([(name, pa.string()) for name in (
        "image_id", "batch_id", "patient", "lesion", "dup_group", "grade", "source")]
        + [("fitzpatrick", pa.int64()), ("split", pa.string())])


def _table(summary: dict) -> Table:
    table = Table(title="split (patient-level, frozen)")
    table.add_column("split")
    table.add_column("images", justify="right")
    table.add_column("patients", justify="right")
    table.add_column("low / high / dangerous", justify="right")
    for split in SPLITS:
        grades = summary["by_grade"][split]
        table.add_row(split, str(summary["images"][split]), str(summary["patients"][split]),
                      " / ".join(str(grades.get(g, 0)) for g in ("low-risk", "high-risk",
                                                                 "dangerous")))
    return table


def main(argv: list[str] | None = None) -> int:
    return run_app(command, argv, prog_name="skinrisk split")


if __name__ == "__main__":
    raise SystemExit(main())

"""`skinrisk import-pad`: PAD-UFES-20 (the published metadata.csv, or the sample in ../shared)
as a hospital batch, as it is. It runs on the sender's side, so it names the images it left out."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from pipelines.common import PARAMS_OPTION, load_params, out, run_app
from pipelines.producers import refuse_complete_batch, write_batch
from skinrisk.batch import ManifestRow, check_batch_id
from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout, project_root
from skinrisk.sources.pad import pad_rows, select_present

PAD_DIR_VARIABLE = "SKINRISK_PAD_DIR"
NAMES_SHOWN = 5  # absent images named on the terminal; the rest are counted


def default_pad_dir() -> Path | None:
    """$SKINRISK_PAD_DIR, else ../shared/data/pad-ufes-20 beside the checkout."""
    if os.environ.get(PAD_DIR_VARIABLE):
        return Path(os.environ[PAD_DIR_VARIABLE])
    root = project_root()
    return root.parent / "shared" / "data" / "pad-ufes-20" if root else None


def command(
    source: Annotated[Path | None, typer.Option(help="PAD-UFES-20 folder (metadata.csv, "
                      "images/).", show_default="$SKINRISK_PAD_DIR or ../shared/data/pad-ufes-20")
                      ] = None,
    batch_id: Annotated[str, typer.Option(help="Batch id.")] = "pad-ufes-20",
    out_dir: Annotated[Path | None, typer.Option("--out", help="Batch folder.",
                       show_default="$SKINRISK_HOME/landing/<batch id>")] = None,
    limit: Annotated[int | None, typer.Option(help="First N present images by file name.",
                     show_default="params.yaml import_pad.limit, else all")] = None,
    params_path: Path = PARAMS_OPTION,
) -> None:
    """Turn PAD-UFES-20 into a batch: photos copied byte for byte; listed but absent ones named."""
    overrides = {"import_pad": {"limit": limit}} if limit is not None else {}
    params = load_params(params_path, overrides).import_pad
    pad_dir = source or default_pad_dir()
    if pad_dir is None or not (pad_dir / "metadata.csv").is_file():
        raise SkinriskError(f"PAD-UFES-20 not found at {pad_dir}: pass --source or set "
                            f"{PAD_DIR_VARIABLE} to the folder holding metadata.csv and images/")
    batch_dir = out_dir or StateLayout.from_env().landing / check_batch_id(batch_id)
    refuse_complete_batch(batch_dir)
    metadata = pad_dir / "metadata.csv"
    listed = pad_rows(metadata.read_text(encoding="utf-8"), where=str(metadata))
    chosen = select_present(listed, _image_names(pad_dir / "images"), params.limit)
    if chosen.absent:
        _name_absent(chosen.absent, len(listed), metadata, pad_dir / "images")
    if not chosen.rows:
        raise SkinriskError(f"{pad_dir / 'images'}: none of the {len(listed)} images listed in "
                            f"{metadata} is there; point --source at the folder holding both")
    rows = chosen.rows
    write_batch(batch_dir, rows, _copies(pad_dir, rows), f"import-pad {batch_dir.name}")
    out.print(f"import-pad: wrote {len(rows)} photos to [bold]{batch_dir}[/]")


def _name_absent(absent: list[str], listed: int, metadata: Path, images: Path) -> None:
    # The sender's own terminal: naming their files here is what lets them find the gap.
    shown = ", ".join(absent[:NAMES_SHOWN]) + (
        f" and {len(absent) - NAMES_SHOWN} more" if len(absent) > NAMES_SHOWN else "")
    out.print(f"import-pad: {len(absent)} of {listed} images listed in {metadata} are not in "
              f"{images}; left out: {shown}", style="yellow", markup=False, highlight=False)


def _image_names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.is_file()} if folder.is_dir() else set()


def _copies(pad_dir: Path, rows: list[ManifestRow]) -> Iterator[tuple[str, bytes]]:
    for row in rows:
        path = pad_dir / row.file_name
        try:
            yield row.file_name, path.read_bytes()
        except FileNotFoundError:
            raise SkinriskError(f"{path}: listed in {pad_dir / 'metadata.csv'} but missing; "
                                "restore the file or remove its row") from None


def main(argv: list[str] | None = None) -> int:
    return run_app(command, argv, prog_name="skinrisk import-pad")


if __name__ == "__main__":
    raise SystemExit(main())

"""`skinrisk pack`: the training-ready image store (TFRecord shards per batch and split)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from rich.progress import Progress

from pipelines.common import PARAMS_OPTION, err, load_params, out, run_app
from skinrisk.catalog import ASSIGNMENTS, CURATED_MANIFEST, SHARD_INDEX, SHARDS
from skinrisk.config import PackParams
from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout
from skinrisk.packing.inpaint import inpaint_version
from skinrisk.packing.shards import groups, write_group
from skinrisk.splitting.assign import TRAIN
from skinrisk.storage.rawzone import RawZone
from skinrisk.storage.tables import read_rows, write_rows
from skinrisk.versioning.session import data_session


def command(params_path: Path = PARAMS_OPTION) -> None:
    """Resize every split image once and pack it; only changed (batch, split) groups."""
    params = load_params(params_path).pack
    layout = StateLayout.from_env()
    with data_session(layout, "pack"):
        _pack(layout, params)


def _pack(layout: StateLayout, params: PackParams) -> None:
    assignments = layout.workspace / ASSIGNMENTS
    if not assignments.is_file():
        raise SkinriskError("no split yet: run `skinrisk split` first")
    root = layout.workspace / SHARDS
    curated = read_rows(layout.workspace / CURATED_MANIFEST)
    formats = {r["image_id"]: r["format"] for r in curated}
    # Kept with dye under quality.actions.dye: inpaint (a manifest from before the column
    # existed has no such image). Training copies only: the test sets stay as photos arrive.
    inpaint = frozenset(r["image_id"] for r in curated if r.get("inpaint"))
    version = inpaint_version()
    raw = RawZone(layout.raw, layout.quarantine)
    previous = _previous(layout.workspace / SHARD_INDEX, params.image_size, params.jpeg_quality)
    index, written = [], 0
    todo = groups(read_rows(assignments))
    with Progress(console=err, transient=True, disable=not err.is_terminal) as progress:
        task = progress.add_task("pack", total=len(todo))
        for (batch_id, split), rows in todo.items():
            paint = inpaint if split == TRAIN else frozenset()
            kept = previous.get((batch_id, split))
            if kept and _still_valid(kept, [r["image_id"] for r in rows], paint, version) and all(
                    (root / r["shard"]).is_file() for r in kept):
                index += kept
            else:
                index += write_group(root, batch_id, split, rows, lambda r: raw.image_path(
                    r["batch_id"], r["image_id"], formats[r["image_id"]]).read_bytes(),
                    params.image_size, params.jpeg_quality, paint, version)
                written += 1
            progress.advance(task)
    for stale in {p for p in root.rglob("*.tfrecord")} - {root / r["shard"] for r in index}:
        stale.unlink()  # a derived shard whose group changed; the data it came from is kept
    write_rows(layout.workspace / SHARD_INDEX, [{**r, "image_size": params.image_size,
                               "jpeg_quality": params.jpeg_quality} for r in index], _schema())
    painted = sum((r.get("painted_share") or 0) > 0 for r in index)
    out.print(f"pack: {len(index)} images in {len({r['shard'] for r in index})} shards at "
              f"{params.image_size}px ({painted} with marker ink painted out); {written} of "
              f"{len(todo)} (batch, split) groups written")


def _still_valid(kept: list[dict], members: list[str], inpaint: frozenset[str], version: str
                 ) -> bool:
    """The group's shards hold the same images, painted as asked now, by the same code."""
    return [(r["image_id"], bool(r.get("inpaint"))) for r in kept] == [
        (m, m in inpaint) for m in members] and all(
        r.get("inpaint_version") == version for r in kept if r.get("inpaint"))


def _previous(path: Path, size: int, quality: int) -> dict[tuple[str, str], list[dict]]:
    if not path.is_file():
        return {}
    # A new size or JPEG quality (or an index from before it was recorded): rebuild all.
    rows = [r for r in read_rows(path)
            if r["image_size"] == size and r.get("jpeg_quality") == quality]
    out: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in rows:
        out[(r["shard"].split("/")[1].rsplit("-", 3)[0], r["split"])].append(r)
    return {k: sorted(v, key=lambda r: r["image_id"]) for k, v in out.items()}


def _schema():
    import pyarrow as pa

    return pa.schema([("image_id", pa.string()), ("split", pa.string()), ("shard", pa.string()),
                      ("position", pa.int64()), ("image_size", pa.int64()),
                      ("jpeg_quality", pa.int64()), ("inpaint", pa.bool_()),
                      ("painted_share", pa.float64()), ("inpaint_version", pa.string())])


def main(argv: list[str] | None = None) -> int:
    return run_app(command, argv, prog_name="skinrisk pack")


if __name__ == "__main__":
    raise SystemExit(main())

"""Writing a batch to a local landing zone as a hospital must: images, manifest, marker last."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from rich.progress import Progress

from pipelines.common import err
from skinrisk.batch import MANIFEST_NAME, READY_MARKER, ManifestRow, render_manifest
from skinrisk.batch_marker import make_ready_marker
from skinrisk.errors import SkinriskError
from skinrisk.localfs import atomic_write


def refuse_complete_batch(batch_dir: Path) -> None:
    """A batch with its ready marker is published: never overwrite it (ingest may have read it)."""
    if (batch_dir / READY_MARKER).exists():
        raise SkinriskError(f"{batch_dir} is already a complete batch (it has {READY_MARKER}); "
                            "choose another --batch-id, or remove that folder if nothing has "
                            "ingested it yet")


def write_batch(batch_dir: Path, rows: list[ManifestRow], files: Iterable[tuple[str, bytes]],
                label: str, before_publish: Callable[[], None] | None = None) -> Path:
    """Write every file, then manifest.csv, then _READY. A killed run is redone by a rerun.

    ``before_publish`` runs once all images are written and before the manifest and marker, for
    what must exist whenever the batch is visible (a synthetic cohort's truth sidecar).
    """
    refuse_complete_batch(batch_dir)
    expected = {r.file_name for r in rows}
    written = 0
    with Progress(console=err, transient=True, disable=not err.is_terminal) as progress:
        task = progress.add_task(label, total=len(rows))
        for name, data in files:
            if name not in expected:
                raise SkinriskError(f"{name}: produced but not in the manifest (a bug in the "
                                    "producer); nothing was published")
            atomic_write(batch_dir / name, data)
            written += 1
            progress.advance(task)
    if written != len(rows):
        raise SkinriskError(f"{batch_dir}: wrote {written} of {len(rows)} images; nothing was "
                            "published (no ready marker)")
    if before_publish is not None:
        before_publish()
    manifest = render_manifest(rows).encode()
    atomic_write(batch_dir / MANIFEST_NAME, manifest)
    atomic_write(batch_dir / READY_MARKER, make_ready_marker(manifest, len(rows)))
    return batch_dir

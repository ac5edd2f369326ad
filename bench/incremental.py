"""Incremental cost: ingest + quality of 100 new images into a dataset of 100 vs of 10,000.

Nothing already checked may be recomputed (scores are cached by image id) and the near-duplicate
lookup is banded, not all-pairs, so the second should cost little more than the first. The
photos are small, distinct JPEGs: what grows with the dataset is the bookkeeping, not decoding.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from skinrisk.batch import COLUMN_NAMES
from skinrisk.batch_marker import make_ready_marker

PARAMS = Path(__file__).resolve().parents[1] / "params.yaml"


def _photo(rng: np.random.Generator) -> bytes:
    base = np.array([200, 150, 130]) + rng.integers(-30, 30, 3)  # a skin-like tone
    pixels = np.clip(base + rng.normal(0, 25, (48, 64, 3)), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=90)
    return out.getvalue()


def _batch(landing: Path, batch_id: str, count: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    folder = landing / batch_id
    (folder / "images").mkdir(parents=True)
    rows = []
    for i in range(count):
        name = f"images/{batch_id}-{i:05d}.jpg"
        (folder / name).write_bytes(_photo(rng))
        patient = f"MRN{seed:02d}{i // 3:06d}"
        rows.append(",".join([name, patient, f"L{i}", "MEL", "true", "back", "3", "",
                              "2026-01-01", "Pixel 7", "hospital-a"]))
    manifest = ("\n".join([",".join(COLUMN_NAMES), *rows]) + "\n").encode()
    (folder / "manifest.csv").write_bytes(manifest)
    (folder / "_READY").write_bytes(make_ready_marker(manifest, count))


def _ingest_and_check(landing: Path) -> None:
    from pipelines.cli import main

    for args in (["ingest", "--landing", str(landing)], ["quality"]):
        with contextlib.redirect_stdout(io.StringIO()):  # the stages' tables: not the point here
            code = main([*args, "--params", str(PARAMS)])
        if code != 0:
            raise RuntimeError(f"skinrisk {args[0]} failed in the benchmark")


def increment_seconds(existing: int, new: int = 100) -> float:
    """Seconds to ingest and check ``new`` photos into a dataset of ``existing`` ones."""
    with tempfile.TemporaryDirectory() as root:
        previous = os.environ.get("SKINRISK_HOME")
        os.environ["SKINRISK_HOME"] = str(Path(root) / "state")
        try:
            landing = Path(root) / "landing"
            _batch(landing, "existing", existing, seed=1)
            _ingest_and_check(landing)
            _batch(landing, "new", new, seed=2)
            # Ingest's commit calls os.sync(), which would otherwise flush the large setup's
            # pages inside the timed run: the figure is the increment's own cost.
            os.sync()
            start = time.perf_counter()
            _ingest_and_check(landing)
            return time.perf_counter() - start
        finally:
            if previous is None:
                os.environ.pop("SKINRISK_HOME", None)
            else:
                os.environ["SKINRISK_HOME"] = previous


def run(small: int = 100, large: int = 10_000) -> list[tuple[str, float, str]]:
    into_small = min(increment_seconds(small) for _ in range(2))
    into_large = increment_seconds(large)
    return [
        (f"ingest + quality of 100 new photos into {small:,}", into_small, "s"),
        (f"ingest + quality of 100 new photos into {large:,}", into_large, "s"),
        (f"into {large:,} / into {small:,} (target <= 1.5)", into_large / into_small, "ratio"),
    ]

"""Training throughput on this machine: the input pipeline from shards and the Xception train
step, at the paper's 299 px and at the small-run size (GPU figures: BENCHMARKS.md notes)."""

from __future__ import annotations

import io
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

SIZES = ((299, 25), (80, 16))  # (image size, batch): the paper's recipe, the small-run profile


def _shards(root: Path, size: int, images: int) -> list[str]:
    from skinrisk.packing.shards import write_group

    rng = np.random.default_rng(0)

    def read(row: dict) -> bytes:
        pixels = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
        out = io.BytesIO()
        Image.fromarray(pixels).filter(_smooth()).save(out, "JPEG", quality=95)
        return out.getvalue()

    rows = [{"image_id": f"{i:06d}", "grade": ("low-risk", "high-risk", "dangerous")[i % 3],
             "patient": f"p{i}", "lesion": f"l{i}", "source": "bench", "fitzpatrick": 3}
            for i in range(images)]
    index = write_group(root, "bench", "train", rows, read, size, 95)
    return sorted({str(root / r["shard"]) for r in index})


def _smooth():
    from PIL import ImageFilter

    return ImageFilter.GaussianBlur(2)  # camera-like content compresses like a photo


def input_pipeline(size: int, batch: int, images: int = 600) -> float:
    from skinrisk.training.data import training_dataset

    with tempfile.TemporaryDirectory() as folder:
        files = _shards(Path(folder), size, images)
        keep = [f"{i:06d}" for i in range(images)]
        rates = []
        for epoch in range(3):
            dataset = training_dataset(files, keep, size, batch, 0, epoch, augment=True)
            start = time.perf_counter()
            seen = sum(int(x.shape[0]) for x, _ in dataset)
            rates.append(seen / (time.perf_counter() - start))
        return max(rates)


def train_step(size: int, batch: int, steps: int = 4) -> float:
    import keras

    from skinrisk.training.model import build_model

    keras.mixed_precision.set_global_policy("float32")
    model = build_model(size)
    model.compile(optimizer=keras.optimizers.RMSprop(0.001, rho=0.9),
                  loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (batch, size, size, 3)).astype(np.float32)
    y = rng.integers(0, 3, batch)
    model.train_on_batch(x, y)  # trace and warm up
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return steps * batch / (time.perf_counter() - start)


def run() -> list[tuple[str, float, str]]:
    cores = os.cpu_count()
    out = []
    for size, batch in SIZES:
        out.append((f"train input pipeline: shards -> decode, augment, batch {batch} at {size} "
                    f"px, {cores} cores", input_pipeline(size, batch), "images/s"))
    for size, batch in SIZES:
        out.append((f"Xception train step, float32, batch {batch} at {size} px, {cores} "
                    "cores (CPU)", train_step(size, batch), "images/s"))
    return out

"""TFRecord shards of training-ready images, one set per (batch, split).

Because a raw batch never changes and a patient's split is frozen, the images of one batch in
one split form a stable group: its shards are written once and rebuilt only when their members
change (a quality threshold moved). One DVC entry holds the whole store, and training reads a
few large files instead of one file per image.

Each record is a tf.train.Example: ``image`` (JPEG at image_size x image_size), ``grade``
(0 low-risk, 1 high-risk, 2 dangerous), ``image_id``, ``patient``, ``lesion``, ``source``,
``fitzpatrick`` (0 = unknown). TensorFlow is imported inside the functions (ml environment).
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from skinrisk.localfs import atomic_write
from skinrisk.taxonomy import RiskGrade

MAX_PER_SHARD = 1000


def resize_for_training(data: bytes, size: int, quality: int = 95, inpaint: bool = False
                        ) -> tuple[bytes, float]:
    """The training copy (size x size JPEG) and the share of it painted: with ``inpaint``,
    marker ink is painted out (skinrisk/packing/inpaint.py); else 0."""
    img = Image.open(io.BytesIO(data))
    img.draft("RGB", (size, size))  # JPEG: decode no larger than needed
    img = img.convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
    share = 0.0
    if inpaint:
        from skinrisk.packing.inpaint import paint_out_ink

        painted = paint_out_ink(data, np.asarray(img))
        img, share = Image.fromarray(painted.image), painted.share
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue(), share


def groups(assignments: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(batch, split) -> its images, in image_id order (so shards are deterministic)."""
    out: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in assignments:
        out[(row["batch_id"], row["split"])].append(row)
    return {k: sorted(v, key=lambda r: r["image_id"]) for k, v in sorted(out.items())}


def shard_names(batch_id: str, split: str, count: int) -> list[str]:
    n = max(1, -(-count // MAX_PER_SHARD))
    return [f"{split}/{batch_id}-{i:05d}-of-{n:05d}.tfrecord" for i in range(n)]


def write_group(root: Path, batch_id: str, split: str, rows: list[dict[str, Any]],
                read: Callable[[dict[str, Any]], bytes], size: int, quality: int,
                inpaint: frozenset[str] = frozenset(), version: str = ""
                ) -> list[dict[str, Any]]:
    """Write the group's shards (atomically); return index rows (image_id, shard, position,
    inpaint, painted_share, inpaint_version). ``inpaint``: the image ids whose ink is painted
    out; ``version``: inpaint_version(), recorded beside each painted copy."""
    import tensorflow as tf

    index = []
    names = shard_names(batch_id, split, len(rows))
    for k, name in enumerate(names):
        members = rows[k * MAX_PER_SHARD:(k + 1) * MAX_PER_SHARD]
        tmp = root / f"{name}.tmp"
        tmp.parent.mkdir(parents=True, exist_ok=True)
        with tf.io.TFRecordWriter(str(tmp)) as writer:
            for position, row in enumerate(members):
                paint = row["image_id"] in inpaint
                jpeg, share = resize_for_training(read(row), size, quality, paint)
                writer.write(_example(row, jpeg))
                index.append({"image_id": row["image_id"], "split": split, "shard": name,
                              "position": position, "inpaint": paint, "painted_share": share,
                              "inpaint_version": version if paint else None})
        atomic_write(root / name, tmp.read_bytes())
        tmp.unlink()
    return index


def _example(row: dict[str, Any], jpeg: bytes) -> bytes:
    import tensorflow as tf

    def bytes_(value: str | bytes) -> Any:
        raw = value.encode() if isinstance(value, str) else value
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[raw]))

    def int_(value: int) -> Any:
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))

    features = {
        "image": bytes_(jpeg), "grade": int_(RiskGrade(row["grade"]).index),
        "image_id": bytes_(row["image_id"]), "patient": bytes_(row["patient"]),
        "lesion": bytes_(row["lesion"]), "source": bytes_(row["source"]),
        "fitzpatrick": int_(row["fitzpatrick"] or 0),
    }
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()

"""The training-ready image store: TFRecord shards that TensorFlow reads back as the split says."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.cli import main
from pipelines.common import load_params
from skinrisk.taxonomy import RiskGrade
from tests.conftest import data_dir
from tests.integration.test_versioning import PARAMS, add_batch

pytestmark = [pytest.mark.ml, pytest.mark.slow]


def read_shards(root: Path) -> dict[str, dict]:
    import tensorflow as tf

    spec = {"image": tf.io.FixedLenFeature([], tf.string),
            "grade": tf.io.FixedLenFeature([], tf.int64),
            "image_id": tf.io.FixedLenFeature([], tf.string)}
    seen = {}
    for shard in sorted(root.rglob("*.tfrecord")):
        for record in tf.data.TFRecordDataset(str(shard)):
            example = tf.io.parse_single_example(record, spec)
            image = tf.io.decode_jpeg(example["image"])
            seen[example["image_id"].numpy().decode()] = {
                "grade": int(example["grade"]), "shape": tuple(image.shape),
                "split": shard.parent.name}
    return seen


def test_shards_hold_every_split_image_once_with_its_label(tmp_path: Path, state_home: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    landing = tmp_path / "landing"
    add_batch(state_home, landing, "b1", seed=11, images=30)
    assignments = pq.read_table(data_dir(state_home) / "splits" / "assignments.parquet")
    expected = {r["image_id"]: r for r in assignments.to_pylist()}
    seen = read_shards(data_dir(state_home) / "shards")
    assert set(seen) == set(expected)
    size = load_params(Path(PARAMS[1])).pack.image_size  # the params the batch was packed with
    for image_id, got in seen.items():
        assert got["grade"] == RiskGrade(expected[image_id]["grade"]).index
        assert got["split"] == expected[image_id]["split"]
        assert got["shape"] == (size, size, 3)
    # The index says which training copies had marker ink painted out: exactly the images the
    # curated manifest marks for it (quality.actions.dye: inpaint).
    marked = {r["image_id"] for r in pq.read_table(data_dir(state_home) / "curated" /
                                                   "manifest.parquet").to_pylist() if r["inpaint"]}
    index = pq.read_table(data_dir(state_home) / "shards" / "index.parquet").to_pylist()
    assert {r["image_id"] for r in index if r["inpainted"]} == marked & set(expected)

    # Nothing new: nothing rewritten. A new batch: only its own groups are written.
    capsys.readouterr()
    assert main(["pack", *PARAMS]) == 0
    assert "0 of" in capsys.readouterr().out
    shards = data_dir(state_home) / "shards"
    mtimes = {p: p.stat().st_mtime_ns for p in shards.rglob("*.tfrecord")}
    add_batch(state_home, landing, "b2", seed=12, images=20)
    assert all(p.stat().st_mtime_ns == t for p, t in mtimes.items())
    assert set(read_shards(data_dir(state_home) / "shards")) == {
        r["image_id"] for r in pq.read_table(data_dir(state_home) / "splits" /
                                             "assignments.parquet").to_pylist()}

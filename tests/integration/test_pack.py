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


def test_marker_ink_is_painted_out_of_training_copies_only(tmp_path: Path, state_home: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    from skinrisk.layout import StateLayout
    from skinrisk.packing.shards import resize_for_training
    from skinrisk.storage.rawzone import RawZone

    landing = tmp_path / "landing"
    add_batch(state_home, landing, "b1", seed=21, images=40, defects=("dye=0.5",))
    data = data_dir(state_home)
    manifest = {r["image_id"]: r for r in pq.read_table(data / "curated" /
                                                        "manifest.parquet").to_pylist()}
    marked = {i for i, r in manifest.items() if r["inpaint"]}
    split_of = {r["image_id"]: r["split"] for r in pq.read_table(
        data / "splits" / "assignments.parquet").to_pylist()}
    index = {r["image_id"]: r for r in pq.read_table(data / "shards" / "index.parquet")
             .to_pylist()}
    assert {i for i in marked if split_of.get(i) == "train"} and {
        i for i in marked if split_of.get(i) not in (None, "train")}, "cohort needs both"
    assert {i for i, r in index.items() if r["inpaint"]} == {
        i for i in marked if split_of.get(i) == "train"}

    # Each copy in the shards is exactly what resize_for_training makes: painted for the
    # training copies of marked photos, as sent for every other split.
    raw = RawZone(StateLayout.from_env().raw, StateLayout.from_env().quarantine)
    size = load_params(Path(PARAMS[1])).pack
    stored = _stored_images(data / "shards")
    painted = 0
    for image_id in marked & set(index):
        photo = raw.image_path("b1", image_id, manifest[image_id]["format"]).read_bytes()
        paint = split_of[image_id] == "train"
        expected, share = resize_for_training(photo, size.image_size, size.jpeg_quality, paint)
        assert stored[image_id] == expected
        assert index[image_id]["painted_share"] == share
        painted += share > 0
    assert painted, "no training copy was painted"

    # dye: flag instead of inpaint rewrites exactly the groups holding painted copies.
    flagging = tmp_path / "flag.yaml"
    flagging.write_text(f"extends: {PARAMS[1]}\nquality: {{actions: {{dye: flag}}}}\n")
    for stage in ("quality", "split"):
        assert main([stage, "--params", str(flagging)]) == 0
    capsys.readouterr()
    assert main(["pack", "--params", str(flagging)]) == 0
    printed = capsys.readouterr().out
    assert "(0 with marker ink painted out); 1 of" in printed, printed
    assert not any(r["inpaint"] for r in pq.read_table(data / "shards" / "index.parquet")
                   .to_pylist())


def _stored_images(root: Path) -> dict[str, bytes]:
    import tensorflow as tf

    spec = {"image": tf.io.FixedLenFeature([], tf.string),
            "image_id": tf.io.FixedLenFeature([], tf.string)}
    return {e["image_id"].numpy().decode(): e["image"].numpy()
            for shard in sorted(root.rglob("*.tfrecord"))
            for e in (tf.io.parse_single_example(r, spec)
                      for r in tf.data.TFRecordDataset(str(shard)))}

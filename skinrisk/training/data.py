"""tf.data from the packed shards: parallel decode, cache, shuffle, batch, prefetch, autotune."""

from __future__ import annotations

from pathlib import Path
from typing import Any

FEATURES = ("image", "grade", "image_id", "patient", "fitzpatrick")


def shard_files(root: Path, split: str) -> list[str]:
    files = sorted(str(p) for p in (root / split).glob("*.tfrecord"))
    return files


def make_dataset(files: list[str], image_size: int, batch_size: int, training: bool,
                 seed: int = 0, cache: bool = True) -> Any:
    """(image float32 0..255, one-hot grade) batches; shuffled and augmented when training."""
    import tensorflow as tf

    spec = {"image": tf.io.FixedLenFeature([], tf.string),
            "grade": tf.io.FixedLenFeature([], tf.int64)}

    def parse(record: Any) -> tuple[Any, Any]:
        example = tf.io.parse_single_example(record, spec)
        image = tf.io.decode_jpeg(example["image"], channels=3)
        image = tf.image.resize(image, (image_size, image_size))
        return image, tf.one_hot(example["grade"], 3)

    def augment(image: Any, label: Any) -> tuple[Any, Any]:
        image = tf.image.random_flip_left_right(image, seed=seed)
        image = tf.image.random_flip_up_down(image, seed=seed)
        image = tf.image.random_brightness(image, 20.0, seed=seed)
        return tf.clip_by_value(image, 0.0, 255.0), label

    autotune = tf.data.AUTOTUNE
    dataset = tf.data.Dataset.from_tensor_slices(files)
    dataset = dataset.interleave(tf.data.TFRecordDataset, num_parallel_calls=autotune,
                                 deterministic=not training)
    dataset = dataset.map(parse, num_parallel_calls=autotune)
    if cache:
        dataset = dataset.cache()  # decoded once; epochs after the first read memory
    if training:
        dataset = dataset.shuffle(2048, seed=seed, reshuffle_each_iteration=True)
        dataset = dataset.map(augment, num_parallel_calls=autotune)
    return dataset.batch(batch_size).prefetch(autotune)

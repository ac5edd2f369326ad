"""tf.data from the packed shards: parallel read and decode, shuffle, augment, batch, prefetch.

Training builds one pipeline per epoch whose shuffle seed and augmentation seeds are functions
of (seed, epoch, position) only, so a worker that resumes at epoch k sees exactly the batches an
uninterrupted run saw at epoch k. Records are selected by image_id (the plan's roles) before any
decoding. Evaluation pipelines keep the shards' order and carry image ids, so predictions join
back to the split table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SHUFFLE_BUFFER = 10_000


def shard_files(root: Path, split: str) -> list[str]:
    return sorted(str(p) for p in (root / split).glob("*.tfrecord"))


def _records(files: list[str], keep: list[str] | None) -> Any:
    """(jpeg bytes, grade, image_id) in a fixed order, optionally only the listed image ids."""
    import tensorflow as tf

    spec = {"image": tf.io.FixedLenFeature([], tf.string),
            "grade": tf.io.FixedLenFeature([], tf.int64),
            "image_id": tf.io.FixedLenFeature([], tf.string)}
    dataset = tf.data.Dataset.from_tensor_slices(files).interleave(
        tf.data.TFRecordDataset, cycle_length=4, num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True)
    dataset = dataset.map(lambda r: tf.io.parse_single_example(r, spec),
                          num_parallel_calls=tf.data.AUTOTUNE)
    if keep is not None:
        table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
            tf.constant(keep or [""], tf.string), tf.ones(max(1, len(keep)), tf.int64)), 0)
        dataset = dataset.filter(lambda e: table.lookup(e["image_id"]) > 0)
    return dataset


def _decode(jpeg: Any, image_size: int) -> Any:
    import tensorflow as tf

    image = tf.io.decode_jpeg(jpeg, channels=3)
    image = tf.image.resize(image, (image_size, image_size), antialias=True)
    return tf.ensure_shape(image, (image_size, image_size, 3))


def _augment(image: Any, seed: Any) -> Any:
    """Flips, a 90-degree turn, brightness and contrast: a lesion photo has no 'up'."""
    import tensorflow as tf

    seeds = tf.random.experimental.stateless_split(seed, 5)
    image = tf.image.stateless_random_flip_left_right(image, seeds[0])
    image = tf.image.stateless_random_flip_up_down(image, seeds[1])
    turns = tf.random.stateless_uniform([], seeds[2], 0, 4, dtype=tf.int32)
    image = tf.image.rot90(image, turns)
    image = tf.image.stateless_random_brightness(image, 20.0, seeds[3])
    image = tf.image.stateless_random_contrast(image, 0.85, 1.15, seeds[4])
    return tf.clip_by_value(image, 0.0, 255.0)


def training_dataset(files: list[str], keep: list[str], image_size: int, batch_size: int,
                     seed: int, epoch: int, augment: bool) -> Any:
    """One epoch of (image float32 0..255, grade int) batches, a pure function of its args."""
    import tensorflow as tf

    epoch_seed = seed * 100_003 + epoch
    dataset = _records(files, keep).apply(tf.data.experimental.assert_cardinality(len(keep)))
    dataset = dataset.shuffle(SHUFFLE_BUFFER, seed=epoch_seed, reshuffle_each_iteration=False)

    def prepare(position: Any, example: Any) -> tuple[Any, Any]:
        image = _decode(example["image"], image_size)
        if augment:
            image = _augment(image, tf.stack([tf.constant(epoch_seed, tf.int64), position]))
        return image, example["grade"]

    dataset = dataset.enumerate().map(prepare, num_parallel_calls=tf.data.AUTOTUNE,
                                      deterministic=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def evaluation_dataset(files: list[str], image_size: int, batch_size: int,
                       keep: list[str] | None = None, cache: bool = False) -> Any:
    """(image, grade, image_id) batches in shard order; cached decoded when asked (validation,
    read every epoch)."""
    import tensorflow as tf

    dataset = _records(files, keep).map(
        lambda e: (_decode(e["image"], image_size), e["grade"], e["image_id"]),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if cache:
        dataset = dataset.cache()
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)

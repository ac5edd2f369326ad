"""Xception with a new 3-way softmax head (the paper: ImageNet weights, fine-tuned).

ImageNet weights cannot be downloaded here: they are loaded from a local file (a path, or the
Keras cache). Asked for and absent, the build fails before any training, saying where to put
the file; `weights: none` builds an untrained network for tests and the CPU demo.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from skinrisk.errors import SkinriskError

KERAS_FILE = "xception_weights_tf_dim_ordering_tf_kernels_notop.h5"
MIN_SIDE = 71  # Xception's smallest input


def keras_cache_file() -> Path:
    """Where Keras keeps downloaded weights: $KERAS_HOME/models (Keras's own variable; a GPU
    worker mounts the weights there read-only, outside the folders it empties), else
    ~/.keras/models."""
    home = os.environ.get("KERAS_HOME")
    return (Path(home) if home else Path.home() / ".keras") / "models" / KERAS_FILE


def resolve_weights(weights: str) -> str | None:
    """'none' -> None; 'imagenet' -> the Keras cache file; else a path to a .h5 file."""
    if weights == "none":
        return None
    path = keras_cache_file() if weights == "imagenet" else Path(weights)
    if not path.is_file():
        raise SkinriskError(
            f"ImageNet weights for Xception not found at {path}. This machine cannot download "
            f"them: copy {KERAS_FILE} there (or set train.weights to the file's path), or use "
            "train.weights: none to train from scratch (tests, the CPU demo)")
    return str(path)


def build_model(image_size: int, weights: str = "none", dropout: float = 0.0,
                classes: int = 3, bn_momentum: float | None = None) -> Any:
    """Xception base + global average pooling + dropout + softmax over the risk grades."""
    if image_size < MIN_SIDE:
        raise SkinriskError(f"train.image_size {image_size} is below Xception's minimum "
                            f"{MIN_SIDE}")
    import keras

    weight_file = resolve_weights(weights)
    inputs = keras.Input((image_size, image_size, 3), name="image")
    scaled = keras.layers.Rescaling(1 / 127.5, offset=-1, name="xception_scaling")(inputs)
    base = keras.applications.Xception(include_top=False, weights=weight_file,
                                       input_shape=(image_size, image_size, 3))
    if bn_momentum is not None:
        # Keras's 0.99 suits long runs; a few-epoch run from scratch would evaluate with
        # moving statistics still near their initial values.
        for layer in base.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = bn_momentum
    features = keras.layers.GlobalAveragePooling2D(name="pool")(base(scaled))
    if dropout:
        features = keras.layers.Dropout(dropout, name="dropout")(features)
    # float32 output even under a mixed-precision policy: softmax in float16 loses mass.
    outputs = keras.layers.Dense(classes, activation="softmax", dtype="float32",
                                 name="grade")(features)
    return keras.Model(inputs, outputs, name="skinrisk_xception")

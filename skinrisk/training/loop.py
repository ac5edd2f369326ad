"""The training loop: execute the plan epoch by epoch, checkpoint every epoch, resume on rerun.

One `fit` call per epoch on a pipeline built for that epoch, then validation macro AUC in NumPy
(skinrisk.metrics, the same code that grades the test sets), then a checkpoint: the
model with its optimizer state as epoch-NNNN.keras (only the newest is kept), and state.json
naming it, written in that order so a kill between the two leaves the previous, consistent pair;
the best epoch's model as best.keras. Seeds are reset from
(seed, epoch) at each epoch start, so a resumed run continues exactly as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from skinrisk.config import TrainParams
from skinrisk.localfs import atomic_write
from skinrisk.metrics import GRADES, auc_one_vs_rest
from skinrisk.training.data import evaluation_dataset, training_dataset
from skinrisk.training.model import build_model
from skinrisk.training.plan import (
    FIT,
    VALIDATION,
    Progress,
    Roles,
    after_epoch,
    class_weights,
    phase,
    scheduled_rate,
)

log = logging.getLogger(__name__)
STATE = "state.json"
BEST = "best.keras"
BASE_LAYER = "xception"


@dataclass(frozen=True)
class Runtime:
    """What this worker trains with (logged as MLflow params)."""

    gpus: int
    policy: str
    replicas: int
    xla: bool


@dataclass
class Outcome:
    best_model: Path
    progress: Progress
    history: list[dict[str, float]] = field(default_factory=list)
    resumed_at: int | None = None  # the epoch a rerun continued from


def configure(params: TrainParams) -> tuple[Runtime, Any]:
    """Precision policy and distribution strategy for this worker's devices."""
    import keras
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:  # share the card with the input pipeline's cuDNN workspace as needed
        tf.config.experimental.set_memory_growth(gpu, True)
    policy = {"auto": "mixed_float16" if gpus else "float32", "off": "float32",
              "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}[params.mixed_precision]
    keras.mixed_precision.set_global_policy(policy)
    if params.distribute == "auto" and len(gpus) > 1:
        strategy = tf.distribute.MirroredStrategy()
    else:
        strategy = tf.distribute.get_strategy()
    return Runtime(len(gpus), policy, strategy.num_replicas_in_sync, params.xla), strategy


def _optimizer(params: TrainParams, rate: float) -> Any:
    import keras

    if params.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(rate, rho=params.rho, momentum=params.momentum)
    if params.optimizer == "adam":
        return keras.optimizers.Adam(rate)
    return keras.optimizers.SGD(rate, momentum=params.momentum)


def _compile(model: Any, params: TrainParams, epoch: int) -> None:
    model.get_layer(BASE_LAYER).trainable = phase(params, epoch) == "fine_tune"
    model.compile(optimizer=_optimizer(params, scheduled_rate(params, epoch)),
                  loss="sparse_categorical_crossentropy", jit_compile=params.xla)


def predict(model: Any, dataset: Any) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(probabilities n x 3 float64, true grades, image ids) in the dataset's order."""
    probabilities, grades, ids = [], [], []
    for images, labels, image_ids in dataset:
        probabilities.append(np.asarray(model.predict_on_batch(images), dtype=np.float64))
        grades.append(labels.numpy())
        ids += [i.decode() for i in image_ids.numpy()]
    if not ids:
        return np.zeros((0, len(GRADES))), np.zeros(0, dtype=np.int64), []
    return np.concatenate(probabilities), np.concatenate(grades), ids


def validation_scores(probabilities: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    per_grade = {f"auc_{g}": auc_one_vs_rest(truth == k, probabilities[:, k])
                 for k, g in enumerate(GRADES)}
    values = [v for v in per_grade.values() if not np.isnan(v)]
    macro = float(np.mean(values)) if values else float("nan")
    return {"macro_auc": macro, **per_grade}


def train(params: TrainParams, files: list[str], roles: Roles, checkpoints: Path,
          on_epoch: Callable[[int, dict[str, float]], None] = lambda e, m: None) -> Outcome:
    """Train (or resume) to the end of the plan; returns the best checkpoint's path.

    ``on_epoch`` runs once the epoch's checkpoint is complete in ``checkpoints`` (state.json
    written), so it may copy the checkpoint elsewhere (skinrisk.training.checkpoint_mirror).
    """
    import keras

    _runtime, strategy = configure(params)
    checkpoints.mkdir(parents=True, exist_ok=True)
    progress, history, model = Progress(), [], None
    saved = _load_state(checkpoints)
    with strategy.scope():
        if saved is not None:
            progress, history = saved["progress"], saved["history"]
            model = keras.models.load_model(checkpoints / saved["checkpoint"])
            log.info("resuming at epoch %d (%d done) from %s", progress.next_epoch + 1,
                     progress.next_epoch, saved["checkpoint"])
        else:
            keras.utils.set_random_seed(params.seed)
            model = build_model(params.image_size, params.weights, params.dropout,
                                bn_momentum=params.bn_momentum)
            _compile(model, params, 0)
    resumed_at = progress.next_epoch if saved is not None else None
    weights = class_weights(roles, params.class_weights)
    validation = evaluation_dataset(files, params.image_size, params.batch_size,
                                    keep=roles.ids(VALIDATION), cache=True)
    fit_ids = roles.ids(FIT)
    for epoch in range(progress.next_epoch, params.epochs):
        if progress.stopped_early:
            break
        keras.utils.set_random_seed(params.seed * 1000 + epoch)
        if epoch and epoch == params.warmup_epochs:
            with strategy.scope():
                _compile(model, params, epoch)  # unfreeze the base, fresh optimizer
        rate = scheduled_rate(params, epoch, progress.plateau_scale)
        model.optimizer.learning_rate.assign(rate)
        fitted = model.fit(training_dataset(files, fit_ids, params.image_size,
                                            params.batch_size, params.seed, epoch,
                                            params.augment),
                           epochs=epoch + 1, initial_epoch=epoch, class_weight=weights,
                           shuffle=False, verbose=0)
        probabilities, truth, _ = predict(model, validation)
        scores = validation_scores(probabilities, truth)
        metrics = {"loss": float(fitted.history["loss"][-1]), "learning_rate": rate,
                   **{f"val_{k}": v for k, v in scores.items()}}
        progress, improved = after_epoch(progress, params, epoch, scores["macro_auc"])
        if improved or progress.best_epoch < 0:  # no computable validation AUC yet: the latest
            _save_model(model, checkpoints / BEST)
        history.append({"epoch": epoch, **metrics})
        _checkpoint(model, checkpoints, progress, history)
        on_epoch(epoch, metrics)
    return Outcome(checkpoints / BEST, progress, history, resumed_at)


def _save_model(model: Any, path: Path) -> None:
    tmp = path.with_name(f"tmp-{path.name}")  # Keras wants the .keras suffix
    model.save(tmp)
    os.replace(tmp, path)


def _checkpoint(model: Any, folder: Path, progress: Progress, history: list[dict]) -> None:
    name = f"epoch-{progress.next_epoch:04d}.keras"
    _save_model(model, folder / name)
    # Valid JSON for every reader: an AUC that cannot be computed (one class in the validation
    # set) is NaN in memory and null in the file.
    kept = [{k: None if isinstance(v, float) and not math.isfinite(v) else v
             for k, v in entry.items()} for entry in history]
    state = {"checkpoint": name, "progress": dataclasses.asdict(progress), "history": kept}
    atomic_write(folder / STATE, (json.dumps(state, indent=1, allow_nan=False) + "\n").encode())
    for old in folder.glob("epoch-*.keras"):
        if old.name != name:
            old.unlink()


def _load_state(folder: Path) -> dict[str, Any] | None:
    path = folder / STATE
    if not path.is_file():
        return None
    state = json.loads(path.read_text())
    history = [{k: math.nan if v is None else v for k, v in entry.items()}
               for entry in state["history"]]
    return {"checkpoint": state["checkpoint"], "history": history,
            "progress": Progress(**state["progress"])}

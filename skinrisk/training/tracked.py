"""A training as an MLflow run: its inputs, per-epoch metrics, the model, the outcome.

One MLflow run per run key (skinrisk.training.runs): the run's id is kept beside the
checkpoints (mlflow.json), so a killed training's rerun continues the same run; the logged
model's URI too (logged.json), so a rerun after a kill past that point logs it no second time.
Both files are also kept on the working prefix with the checkpoints.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skinrisk.catalog import SHARDS
from skinrisk.config import Params
from skinrisk.digest import canonical_sha256, lock_hashes
from skinrisk.layout import StateLayout, project_root
from skinrisk.localfs import atomic_write
from skinrisk.splitting.assign import TRAIN
from skinrisk.tracking import (
    IMAGES_ARTIFACT,
    PARAMS_ARTIFACT,
    connect,
    context_tags,
    dvc_source,
    flatten,
    log_dataset,
)
from skinrisk.training.checkpoint_mirror import CheckpointMirror, LocalCheckpoints
from skinrisk.training.plan import FIT, VALIDATION, Roles
from skinrisk.training.runs import LOGGED_FILE, TrainingRecord
from skinrisk.versioning.current import DataVersion
from skinrisk.versioning.workspace import git_remote

RUN_LINK = "mlflow.json"  # beside the checkpoints: the run key's MLflow run
Mirror = CheckpointMirror | LocalCheckpoints


@dataclass(frozen=True)
class TrainingRun:
    """What one training is of: params, data version, code, and the images in each role."""

    params: Params
    params_file: str  # the params file's name, as logged
    version: DataVersion
    code: dict[str, str]  # skinrisk.tracking.code_version()
    key: str  # skinrisk.training.runs.run_key of the three above
    roles: Roles
    rows: list[dict[str, Any]]  # the split's assignments


def image_lists(roles: Roles) -> dict[str, list[str]]:
    """The exact images a run fits on and validates on (logged; its digest is in the ledger)."""
    return {FIT: roles.ids(FIT), VALIDATION: roles.ids(VALIDATION)}


def train_and_log(run: TrainingRun, layout: StateLayout, checkpoints: Path, mirror: Mirror,
                  say: Callable[[str], None]) -> tuple[TrainingRecord, Path]:
    """Train (or resume) in the run key's MLflow run; (the training's record, its best model).
    ``say`` shows progress lines."""
    import mlflow

    experiment = connect(layout)
    link = checkpoints / RUN_LINK
    run_id = json.loads(link.read_text())["run_id"] if link.is_file() else None
    roles, version = run.roles, run.version
    say(f"train: {version.tag}, {len(roles.ids(FIT))} images to fit ({roles.counts()[FIT]}), "
        f"{len(roles.ids(VALIDATION))} for validation; run key {run.key}")
    with mlflow.start_run(run_id=run_id, experiment_id=experiment, log_system_metrics=True,
                          run_name=None if run_id else f"train {version.tag} {run.key[:8]}"
                          ) as active:
        if run_id is None:
            atomic_write(link, json.dumps({"run_id": active.info.run_id}).encode())
            mirror.keep(link)
            log_inputs(run, layout)
        else:
            say(f"train: continuing MLflow run {run_id}")
        result = _fit(run.params, layout, roles, checkpoints, mirror, say)
        logged = checkpoints / LOGGED_FILE
        if logged.is_file():
            model_uri = json.loads(logged.read_text())["model_uri"]
        else:
            model_uri = log_model(result.best_model, run.params.train.image_size)
            atomic_write(logged, json.dumps({"model_uri": model_uri}).encode())
            mirror.keep(logged)
        best_epoch, best_auc = _best(result.progress)
        mlflow.log_metrics({"best_epoch": best_epoch, "epochs_run": result.progress.next_epoch,
                            "stopped_early": int(result.progress.stopped_early),
                            **({"best_val_macro_auc": best_auc} if best_auc is not None
                               else {})})
        record = TrainingRecord(
            run_id=active.info.run_id, model_uri=model_uri, run_key=run.key,
            data_version=version.tag, data_commit=version.commit,
            shards_md5=version.shards_md5, splits_md5=version.splits_md5,
            image_size=run.params.train.image_size, best_epoch=best_epoch,
            best_val_macro_auc=best_auc, resumed_at_epoch=result.resumed_at, code=run.code)
    return record, result.best_model


def ledger_entry(run: TrainingRun, record: TrainingRecord) -> dict[str, Any]:
    """The ledger's `training_run` event: what was trained on, with what, from which code."""
    lists = image_lists(run.roles)
    return {
        "run_id": record.run_id, "model_uri": record.model_uri, "run_key": record.run_key,
        "data_version": record.data_version, "data_commit": record.data_commit,
        "shards_md5": record.shards_md5, "splits_md5": record.splits_md5,
        "best_epoch": record.best_epoch, "code_commit": record.code.get("code.commit"),
        "code_dirty": record.code.get("code.dirty"),
        "params_sha256": canonical_sha256(run.params.model_dump(mode="json", by_alias=True)),
        "params_file": run.params_file,
        "images_sha256": canonical_sha256(lists),
        "images": {role: len(ids) for role, ids in lists.items()},
        "environment_locks": lock_hashes(project_root())}


def _best(progress) -> tuple[int, float | None]:
    """The kept epoch and its validation AUC; the last epoch when no AUC was computable (a
    validation set too small to hold every grade)."""
    if progress.best_epoch < 0:
        return progress.next_epoch - 1, None
    return progress.best_epoch, progress.best_auc


def _fit(params: Params, layout: StateLayout, roles: Roles, checkpoints: Path, mirror: Mirror,
         say: Callable[[str], None]):
    import mlflow

    from skinrisk.training.data import shard_files
    from skinrisk.training.loop import train

    def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
        mirror.push_epoch(checkpoints)  # the loop has just checkpointed this epoch locally
        mlflow.log_metrics({k: v for k, v in metrics.items() if v == v}, step=epoch)
        shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items())
        say(f"train: epoch {epoch + 1}/{params.train.epochs}: {shown}")

    files = shard_files(layout.workspace / SHARDS, TRAIN)
    return train(params.train, files, roles, checkpoints, on_epoch)


def log_inputs(run: TrainingRun, layout: StateLayout) -> None:
    """Params (flat and whole), image lists, runtime, tags and datasets of a new run."""
    import mlflow

    from skinrisk.training.loop import configure

    runtime, _ = configure(run.params.train)
    dumped = run.params.model_dump(mode="json", by_alias=True)
    mlflow.log_params(flatten(dumped))
    # Whole, for `skinrisk audit reproduce`: the flat params above lose types and nesting.
    mlflow.log_dict(dumped, PARAMS_ARTIFACT)
    mlflow.log_dict(image_lists(run.roles), IMAGES_ARTIFACT)
    mlflow.log_params({"runtime.gpus": runtime.gpus, "runtime.policy": runtime.policy,
                       "runtime.replicas": runtime.replicas, "params_file": run.params_file})
    version = run.version
    mlflow.set_tags({"stage": "train", "data.version": version.tag,
                     "data.commit": version.commit, "run_key": run.key, **run.code,
                     **context_tags(),
                     **{f"dvc.{path}": md5 for path, md5 in version.hashes.items()}})
    by_id = {r["image_id"]: r for r in run.rows}
    for role, context in ((FIT, "training"), (VALIDATION, "validation")):
        members = [{"image_id": i, "grade": by_id[i]["grade"], "patient": by_id[i]["patient"],
                    "source": by_id[i]["source"]} for i in run.roles.ids(role)]
        log_dataset(f"{version.tag}/{role}", members, version.shards_md5,
                    dvc_source(git_remote(layout), version.tag, SHARDS), context)


def log_model(path: Path, image_size: int) -> str:
    """The Keras model at ``path`` logged to the active run, with signature and pinned
    requirements; its model URI."""
    from importlib.metadata import version

    import keras
    import numpy as np
    from mlflow.models import Model, infer_signature

    # MLflow predicts on the input example to check it (Keras draws a progress bar in ANSI
    # codes into the task log) and warns that the environment has no pip (uv built it; the
    # requirements are pinned below): neither says anything to the user.
    keras.config.disable_interactive_logging()
    logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)
    model = keras.models.load_model(path)
    example = np.random.default_rng(0).uniform(0, 255, (1, image_size, image_size, 3)).astype(
        np.float32)
    signature = infer_signature(example, model.predict(example, verbose=0))
    # Pinned here, not inferred: inference loads the model in a subprocess (a minute on CPU).
    requirements = [f"{name}=={version(name)}" for name in ("tensorflow", "keras", "mlflow")]
    return Model.log(artifact_path=None, name="model", flavor=_KerasFlavor, model=model,
                     signature=signature, input_example=example,
                     pip_requirements=requirements).model_uri


class _KerasFlavor:
    """mlflow.keras as the flavor, except that the model folder exists before the input example
    is written into it (MLflow 3.17's keras save_model writes the example first and fails)."""

    __name__ = "mlflow.keras"

    @staticmethod
    def save_model(path: str, **kwargs):
        import mlflow.keras

        os.makedirs(path, exist_ok=True)
        return mlflow.keras.save_model(path=path, **kwargs)

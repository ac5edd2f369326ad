"""`skinrisk train`: Xception on the current dataset version, one MLflow run per training.

Checkpoints every epoch under SKINRISK_HOME/checkpoints/<run key>, where the run key hashes the
train params, the data version's hashes and the code commit: a killed worker's rerun finds its
checkpoint and its MLflow run and continues both; a change to any of them starts afresh.

With a working prefix (SKINRISK_WORK_URL) every epoch and the run's records are also copied to
the object store (skinrisk.training.checkpoint_mirror), so a retry on another machine or a wiped
disk resumes from there; the local folder is then <run key>/gen-NNNN. `--fresh` deletes only the
local copy: the store is write-once evidence, so instead of deleting there it starts the next
generation, which reruns without --fresh continue. A generation counter rather than a new run
key: the run key stays the one hash of params, data and code that MLflow and the ledger show.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import typer

from pipelines.common import PARAMS_OPTION, load_params, out, run_app
from skinrisk import ledger
from skinrisk.audit.model import IMAGES_ARTIFACT, PARAMS_ARTIFACT
from skinrisk.catalog import ASSIGNMENTS, SHARDS
from skinrisk.config import Params
from skinrisk.digest import canonical_sha256, lock_hashes
from skinrisk.layout import StateLayout, project_root
from skinrisk.ledger import Event
from skinrisk.localfs import atomic_write, write_json
from skinrisk.records.locks import named_lock
from skinrisk.splitting.assign import TRAIN
from skinrisk.storage.tables import read_rows
from skinrisk.tracking import (
    code_version,
    connect,
    context_tags,
    dvc_source,
    flatten,
    log_dataset,
)
from skinrisk.training.checkpoint_mirror import (
    CheckpointMirror,
    LocalCheckpoints,
    open_mirror,
)
from skinrisk.training.plan import FIT, VALIDATION, Roles, assign_roles
from skinrisk.training.runs import (
    DONE_FILE,
    LOGGED_FILE,
    MODEL_FILE,
    publish_model,
    run_key,
)
from skinrisk.versioning.checkout import TRAINING_INPUTS, checkout_version
from skinrisk.versioning.current import DataVersion, current_version
from skinrisk.versioning.workspace import git_remote

FRESH_OPTION = typer.Option(False, "--fresh", help="Discard this run key's local checkpoints "
                            "and MLflow run link; train from epoch 0 (on the working prefix, a "
                            "new generation: nothing there is deleted).")
Mirror = CheckpointMirror | LocalCheckpoints


def command(params_path: Path = PARAMS_OPTION, fresh: bool = FRESH_OPTION) -> None:
    """Train (or resume) and log the run: params, per-epoch metrics, data, the model."""
    params = load_params(params_path)
    layout = StateLayout.from_env()
    checkout_version(layout, TRAINING_INPUTS)
    version = current_version(layout)
    rows = read_rows(layout.workspace / ASSIGNMENTS)
    roles = assign_roles(rows, params.train)
    code = code_version()
    key = run_key(params, version, code["code.commit"])
    # One training per run key at a time: a second one (two DAG runs, a retry racing a worker
    # that is slow, not dead) waits here, then finds the training done and reuses it.
    with named_lock(layout, f"train-{key}") as lock:
        if fresh:
            shutil.rmtree(layout.checkpoints / key, ignore_errors=True)
        mirror = open_mirror(layout.work_url, key, fresh)
        checkpoints = mirror.folder(layout.checkpoints / key)
        mirror.restore(checkpoints)
        done = checkpoints / DONE_FILE
        if done.is_file():
            record = json.loads(done.read_text())
            publish_model(layout, checkpoints / record["best_model"], record)
            out.print(f"train: run key {key} was trained already (MLflow run "
                      f"{record['run_id']}); its model is in place, nothing retrained")
            _result(record)
            return
        checkpoints.mkdir(parents=True, exist_ok=True)
        record, best = _train_and_log(params, params_path, layout, version, code, key, roles,
                                      rows, checkpoints, mirror)
        publish_model(layout, best, record)
        if not ledger.recorded(layout, Event.TRAINING_RUN, "run_id", record["run_id"]):
            ledger.record(layout, Event.TRAINING_RUN, {
                **{k: record[k] for k in ("run_id", "model_uri", "run_key", "data_version",
                                          "data_commit", "shards_md5", "splits_md5", "best_epoch")},
                "code_commit": record.get("code.commit"), "code_dirty": record.get("code.dirty"),
                "params_sha256": _params_hash(params), "params_file": params_path.name,
                "images_sha256": canonical_sha256(image_lists(roles)),
                "images": {role: len(ids) for role, ids in image_lists(roles).items()},
                "environment_locks": lock_hashes(project_root())})
        # Last: from here on a rerun of this run key only republishes the model.
        lock.confirm()
        write_json(done, {**record, "best_model": best.name})
        mirror.keep(done)
    best_auc = record["best_val_macro_auc"]
    shown = "not computable (a grade missing)" if best_auc is None else f"{best_auc:.3f}"
    # Epochs are counted from 1 where people read them, as the per-epoch progress lines do;
    # records keep MLflow's steps, from 0.
    out.print(f"train: best epoch {record['best_epoch'] + 1} of {params.train.epochs} "
              f"(validation macro AUC {shown}); model "
              f"{layout.models / MODEL_FILE}; MLflow run {record['run_id']}")
    _result(record)


def _result(record: dict[str, Any]) -> None:
    """The last stdout line, JSON: the DAG's XCom, by which the report finds this training."""
    print(json.dumps({k: record[k] for k in ("run_key", "run_id", "data_version")}))


def _train_and_log(params: Params, params_path: Path, layout: StateLayout, version: DataVersion,
                   code: dict[str, str], key: str, roles: Roles, rows: list[dict],
                   checkpoints: Path, mirror: Mirror) -> tuple[dict[str, Any], Path]:
    import mlflow

    experiment = connect(layout)
    link = checkpoints / "mlflow.json"
    run_id = json.loads(link.read_text())["run_id"] if link.is_file() else None
    counts = roles.counts()
    out.print(f"train: {version.tag}, {len(roles.ids(FIT))} images to fit "
              f"({counts[FIT]}), {len(roles.ids(VALIDATION))} for validation; run key {key}")
    with mlflow.start_run(run_id=run_id, experiment_id=experiment, log_system_metrics=True,
                          run_name=None if run_id else f"train {version.tag} {key[:8]}") as run:
        if run_id is None:
            atomic_write(link, json.dumps({"run_id": run.info.run_id}).encode())
            mirror.keep(link)
            _log_inputs(params, params_path, layout, version, code, key, roles, rows)
        else:
            out.print(f"train: continuing MLflow run {run_id}")
        result = _train(params, layout, roles, checkpoints, mirror)
        # Logged once per run key: a rerun after a kill past this point reuses the model.
        logged = checkpoints / LOGGED_FILE
        if logged.is_file():
            model_uri = json.loads(logged.read_text())["model_uri"]
        else:
            model_uri = _log_model(result.best_model, params.train.image_size).model_uri
            atomic_write(logged, json.dumps({"model_uri": model_uri}).encode())
            mirror.keep(logged)
        best_epoch, best_auc = _best(result.progress)
        mlflow.log_metrics({"best_epoch": best_epoch, "epochs_run": result.progress.next_epoch,
                            "stopped_early": int(result.progress.stopped_early),
                            **({"best_val_macro_auc": best_auc} if best_auc is not None
                               else {})})
        record = {"run_id": run.info.run_id, "model_uri": model_uri, "run_key": key,
                  "data_version": version.tag, "data_commit": version.commit,
                  "shards_md5": version.shards_md5, "splits_md5": version.splits_md5,
                  "image_size": params.train.image_size, "best_epoch": best_epoch,
                  "best_val_macro_auc": best_auc,
                  "resumed_at_epoch": result.resumed_at, **code}
    return record, result.best_model


def _best(progress) -> tuple[int, float | None]:
    """The kept epoch and its validation AUC; the last epoch when no AUC was computable (a
    validation set too small to hold every grade)."""
    if progress.best_epoch < 0:
        return progress.next_epoch - 1, None
    return progress.best_epoch, progress.best_auc


def _params_hash(params: Params) -> str:
    return canonical_sha256(params.model_dump(mode="json", by_alias=True))


def image_lists(roles: Roles) -> dict[str, list[str]]:
    """The exact images a run fits on and validates on (logged; its digest is in the ledger)."""
    return {FIT: roles.ids(FIT), VALIDATION: roles.ids(VALIDATION)}


def _train(params: Params, layout: StateLayout, roles: Roles, checkpoints: Path,
           mirror: Mirror):
    import mlflow

    from skinrisk.training.data import shard_files
    from skinrisk.training.loop import train

    def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
        mirror.push_epoch(checkpoints)  # the loop has just checkpointed this epoch locally
        mlflow.log_metrics({k: v for k, v in metrics.items() if v == v}, step=epoch)
        shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items())
        out.print(f"train: epoch {epoch + 1}/{params.train.epochs}: {shown}")

    files = shard_files(layout.workspace / SHARDS, TRAIN)
    return train(params.train, files, roles, checkpoints, on_epoch)


def _log_inputs(params: Params, params_path: Path, layout: StateLayout, version: DataVersion,
                code: dict[str, str], key: str, roles: Roles, rows: list[dict]) -> None:
    import mlflow

    from skinrisk.training.loop import configure

    runtime, _ = configure(params.train)
    dumped = params.model_dump(mode="json", by_alias=True)
    mlflow.log_params(flatten(dumped))
    # Whole, for `skinrisk audit reproduce`: the flat params above lose types and nesting.
    mlflow.log_dict(dumped, PARAMS_ARTIFACT)
    mlflow.log_dict(image_lists(roles), IMAGES_ARTIFACT)
    mlflow.log_params({"runtime.gpus": runtime.gpus, "runtime.policy": runtime.policy,
                       "runtime.replicas": runtime.replicas, "params_file": params_path.name})
    mlflow.set_tags({"stage": "train", "data.version": version.tag,
                     "data.commit": version.commit, "run_key": key, **code, **context_tags(),
                     **{f"dvc.{path}": md5 for path, md5 in version.hashes.items()}})
    by_id = {r["image_id"]: r for r in rows}
    for role, context in ((FIT, "training"), (VALIDATION, "validation")):
        members = [{"image_id": i, "grade": by_id[i]["grade"], "patient": by_id[i]["patient"],
                    "source": by_id[i]["source"]} for i in roles.ids(role)]
        log_dataset(f"{version.tag}/{role}", members, version.shards_md5,
                    dvc_source(git_remote(layout), version.tag, SHARDS), context)


def _log_model(path: Path, image_size: int):
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
                     pip_requirements=requirements)


class _KerasFlavor:
    """mlflow.keras as the flavor, except that the model folder exists before the input example
    is written into it (MLflow 3.17's keras save_model writes the example first and fails)."""

    __name__ = "mlflow.keras"

    @staticmethod
    def save_model(path: str, **kwargs):

        import mlflow.keras

        os.makedirs(path, exist_ok=True)
        return mlflow.keras.save_model(path=path, **kwargs)


def main(argv: list[str] | None = None) -> int:
    return run_app(command, argv, prog_name="skinrisk train")


if __name__ == "__main__":
    raise SystemExit(main())

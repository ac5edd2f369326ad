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
import shutil
from pathlib import Path

import typer

from pipelines.common import PARAMS_OPTION, load_params, out, run_app
from skinrisk import ledger
from skinrisk.catalog import ASSIGNMENTS
from skinrisk.layout import StateLayout
from skinrisk.ledger import Event
from skinrisk.localfs import write_json
from skinrisk.records.locks import named_lock
from skinrisk.storage.tables import read_rows
from skinrisk.tracking import code_version
from skinrisk.training.checkpoint_mirror import open_mirror
from skinrisk.training.plan import assign_roles
from skinrisk.training.runs import DONE_FILE, MODEL_FILE, TrainingRecord, publish_model, run_key
from skinrisk.training.tracked import TrainingRun, ledger_entry, train_and_log
from skinrisk.versioning.checkout import TRAINING_INPUTS, checkout_version
from skinrisk.versioning.current import current_version

FRESH_OPTION = typer.Option(False, "--fresh", help="Discard this run key's local checkpoints "
                            "and MLflow run link; train from epoch 0 (on the working prefix, a "
                            "new generation: nothing there is deleted).")


def command(params_path: Path = PARAMS_OPTION, fresh: bool = FRESH_OPTION) -> None:
    """Train (or resume) and log the run: params, per-epoch metrics, data, the model."""
    params = load_params(params_path)
    layout = StateLayout.from_env()
    checkout_version(layout, TRAINING_INPUTS)
    version = current_version(layout)
    rows = read_rows(layout.workspace / ASSIGNMENTS)
    roles = assign_roles(rows, params.train)
    code = code_version()
    run = TrainingRun(params, params_path.name, version, code,
                      run_key(params, version, code["code.commit"]), roles, rows)
    # One training per run key at a time: a second one (two DAG runs, a retry racing a worker
    # that is slow, not dead) waits here, then finds the training done and reuses it.
    with named_lock(layout, f"train-{run.key}") as lock:
        if fresh:
            shutil.rmtree(layout.checkpoints / run.key, ignore_errors=True)
        mirror = open_mirror(layout.work_url, run.key, fresh)
        checkpoints = mirror.folder(layout.checkpoints / run.key)
        mirror.restore(checkpoints)
        done = checkpoints / DONE_FILE
        if done.is_file():
            kept = json.loads(done.read_text())  # the record, and the checkpoint it names
            record = TrainingRecord.from_json(kept, str(done))
            publish_model(layout, checkpoints / kept["best_model"], record)
            out.print(f"train: run key {run.key} was trained already (MLflow run "
                      f"{record.run_id}); its model is in place, nothing retrained")
            _result(record)
            return
        checkpoints.mkdir(parents=True, exist_ok=True)
        record, best = train_and_log(run, layout, checkpoints, mirror, out.print)
        publish_model(layout, best, record)
        if not ledger.recorded(layout, Event.TRAINING_RUN, "run_id", record.run_id):
            ledger.record(layout, Event.TRAINING_RUN, ledger_entry(run, record))
        # Last: from here on a rerun of this run key only republishes the model.
        lock.confirm()
        write_json(done, {**record.to_json(), "best_model": best.name})
        mirror.keep(done)
    best_auc = record.best_val_macro_auc
    shown = "not computable (a grade missing)" if best_auc is None else f"{best_auc:.3f}"
    # Epochs are counted from 1 where people read them, as the per-epoch progress lines do;
    # records keep MLflow's steps, from 0.
    out.print(f"train: best epoch {record.best_epoch + 1} of {params.train.epochs} "
              f"(validation macro AUC {shown}); model "
              f"{layout.models / MODEL_FILE}; MLflow run {record.run_id}")
    _result(record)


def _result(record: TrainingRecord) -> None:
    """The last stdout line, JSON: the DAG's XCom, by which the report finds this training."""
    print(json.dumps({"run_key": record.run_key, "run_id": record.run_id,
                      "data_version": record.data_version}))


def main(argv: list[str] | None = None) -> int:
    return run_app(command, argv, prog_name="skinrisk train")


if __name__ == "__main__":
    raise SystemExit(main())

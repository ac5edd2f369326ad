"""`skinrisk evaluate`: the trained model on the held-out, cross-ethnic and OOD sets.

Writes metrics/evaluate.json (dvc.yaml metrics), metrics/predictions.parquet and the paper's
figures as PNGs (dvc.yaml plots; skinrisk.evaluation.outputs); logs all of it to the training's
MLflow run; then registers the model as a new version of skinrisk-xception with the alias
`challenger`. A rerun registers nothing twice: the run's existing version gets the alias again
(skinrisk.evaluation.tracked).

With `--model REF --batch ID ...` it grades a registered model on batches instead (an external
evaluation, pipelines.evaluate_external): nothing registered, no alias moved.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import typer

from pipelines.common import PARAMS_OPTION, load_params, out, run_app, working
from pipelines.evaluation_table import summary_table
from skinrisk import ledger
from skinrisk.errors import SkinriskError
from skinrisk.evaluation.outputs import REPORT, write_outputs
from skinrisk.evaluation.report import evaluate_sets
from skinrisk.layout import StateLayout
from skinrisk.ledger import Event
from skinrisk.tracking import CHALLENGER, MODEL_NAME
from skinrisk.training.runs import MODEL_FILE, RUN_FILE, TrainingRecord, trained_record
from skinrisk.versioning.checkout import EVALUATION_INPUTS, checkout_version
from skinrisk.versioning.current import current_version

MODEL_OPTION = typer.Option(
    None, "--model", help="Instead: grade this registered model (3, champion, "
    "skinrisk-xception/3) on the --batch batches, which it must never have trained on; its own "
    "MLflow run, registers nothing.")
BATCH_OPTION = typer.Option(None, "--batch", help="With --model: an ingested batch to grade "
                            "on (repeatable); its quality-accepted images count.")


def command(params_path: Path = PARAMS_OPTION, model_ref: str | None = MODEL_OPTION,
            batches: list[str] | None = BATCH_OPTION) -> None:
    """Grade the last trained model on every test set; log; register it as the challenger.
    With --model and --batch: an external evaluation of any registered model instead."""
    if model_ref is not None or batches:
        if model_ref is None or not batches:
            raise typer.BadParameter("an external evaluation needs both --model REF and "
                                     "--batch ID")
        from pipelines.evaluate_external import run

        return run(params_path, model_ref, batches)
    import keras

    from skinrisk.evaluation.predict import predict_version
    from skinrisk.evaluation.tracked import log_evaluation

    params = load_params(params_path)
    layout = StateLayout.from_env()
    checkout_version(layout, EVALUATION_INPUTS)
    version = current_version(layout)
    # A cloned workspace holds no training: it comes from the working prefix, by run key.
    record = trained_record(layout, params, version) if layout.clones else _last_trained(layout)
    model = keras.models.load_model(layout.models / MODEL_FILE)
    with working("evaluate: predicting every test set"):
        sets = predict_version(model, layout.workspace, record.image_size)
    ev = params.evaluate
    with working(f"evaluate: {ev.bootstrap_resamples} bootstrap resamples by patient"):
        report = evaluate_sets(sets, ev.bootstrap_resamples, ev.confidence, ev.seed,
                               ev.slices)
    report.update(model_run=record.run_id, trained_on=record.data_version,
                  evaluated_on=version.tag, shards_md5=version.shards_md5,
                  splits_md5=version.splits_md5)
    write_outputs(layout.metrics, report, sets)
    model_version = log_evaluation(layout, record, report, version)
    ledger.record(layout, Event.EVALUATION, {
        "run_id": record.run_id, "model": f"{MODEL_NAME}/{model_version}",
        "data_version": version.tag, "shards_md5": version.shards_md5,
        "report_sha256": hashlib.sha256((layout.metrics / REPORT).read_bytes()).hexdigest(),
        **{f"{name}_macro_auc": figures.get("macro_auc")
           for name, figures in report["sets"].items()}})
    out.print(summary_table(report))
    out.print(f"evaluate: {layout.metrics / REPORT}; {MODEL_NAME} version {model_version} is "
              f"the `{CHALLENGER}`")


def _last_trained(layout: StateLayout) -> TrainingRecord:
    run_file = layout.models / RUN_FILE
    if not run_file.is_file():
        raise SkinriskError(f"no trained model at {layout.models}: run `skinrisk train` first")
    return TrainingRecord.read(run_file)


def main(argv: list[str] | None = None) -> int:
    return run_app(command, argv, prog_name="skinrisk evaluate")


if __name__ == "__main__":
    raise SystemExit(main())

"""`skinrisk evaluate`: the trained model on the held-out, cross-ethnic and OOD sets.

Writes metrics/evaluate.json (dvc.yaml metrics), metrics/predictions.parquet and the paper's
figures as PNGs (dvc.yaml plots); logs all of it to the training's MLflow run; then registers
the model as a new version of skinrisk-xception with the alias `challenger`. A rerun registers
nothing twice: the run's existing version gets the alias again.

With `--model REF --batch ID ...` it grades a registered model on batches instead (an external
evaluation, pipelines.evaluate_external): nothing registered, no alias moved.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from pipelines.common import PARAMS_OPTION, load_params, out, run_app, working
from skinrisk import ledger
from skinrisk.catalog import ASSIGNMENTS, SHARDS, VALIDATION
from skinrisk.errors import SkinriskError
from skinrisk.evaluation.report import Predictions, evaluate_sets, flat_metrics
from skinrisk.layout import StateLayout
from skinrisk.ledger import Event
from skinrisk.localfs import write_json
from skinrisk.metrics import GRADES
from skinrisk.storage.tables import read_rows, write_rows
from skinrisk.tracking import CHALLENGER, MODEL_NAME, connect, dvc_source, log_dataset
from skinrisk.training.runs import MODEL_FILE, RUN_FILE, trained_record
from skinrisk.versioning.checkout import EVALUATION_INPUTS, checkout_version
from skinrisk.versioning.current import current_version
from skinrisk.versioning.workspace import git_remote

REPORT = "evaluate.json"
PREDICTIONS = "predictions.parquet"
PLOTS = "plots"
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

    params = load_params(params_path)
    layout = StateLayout.from_env()
    checkout_version(layout, EVALUATION_INPUTS)
    version = current_version(layout)
    # A cloned workspace holds no training: it comes from the working prefix, by run key.
    record = trained_record(layout, params, version) if layout.clones else _last_trained(layout)
    model = keras.models.load_model(layout.models / MODEL_FILE)
    with working("evaluate: predicting every test set"):
        sets = predict_version(model, layout.workspace, record["image_size"])
    ev = params.evaluate
    with working(f"evaluate: {ev.bootstrap_resamples} bootstrap resamples by patient"):
        report = evaluate_sets(sets, ev.bootstrap_resamples, ev.confidence, ev.seed,
                               ev.slices)
    report.update(model_run=record["run_id"], trained_on=record["data_version"],
                  evaluated_on=version.tag, shards_md5=version.shards_md5,
                  splits_md5=version.splits_md5)
    write_outputs(layout.metrics, report, sets)
    model_version = _log(layout, record, report, version)
    ledger.record(layout, Event.EVALUATION, {
        "run_id": record["run_id"], "model": f"{MODEL_NAME}/{model_version}",
        "data_version": version.tag, "shards_md5": version.shards_md5,
        "report_sha256": hashlib.sha256((layout.metrics / REPORT).read_bytes()).hexdigest(),
        **{f"{name}_macro_auc": figures.get("macro_auc")
           for name, figures in report["sets"].items()}})
    out.print(summary_table(report))
    out.print(f"evaluate: {layout.metrics / REPORT}; {MODEL_NAME} version {model_version} is "
              f"the `{CHALLENGER}`")


def _last_trained(layout: StateLayout) -> dict[str, Any]:
    run_file = layout.models / RUN_FILE
    if not run_file.is_file():
        raise SkinriskError(f"no trained model at {layout.models}: run `skinrisk train` first")
    return json.loads(run_file.read_text())


def write_outputs(folder: Path, report: dict[str, Any], sets: dict[str, Predictions]) -> None:
    from skinrisk.evaluation.plots import confusion_png, roc_png

    for name, figures in report["sets"].items():
        if figures["n"]:
            roc_png(sets[name], figures, f"{name}: ROC per grade", folder / PLOTS /
                    f"{name}_roc.png")
            confusion_png(figures, name, folder / PLOTS / f"{name}_confusion.png")
    write_rows(folder / PREDICTIONS, _prediction_rows(sets), _prediction_schema())
    write_json(folder / REPORT, report)


def _prediction_rows(sets: dict[str, Predictions]) -> list[dict[str, Any]]:
    return [{"image_id": image_id, "split": name, "grade": int(p.truth[i]),
             **{f"p_{g}": float(p.probabilities[i, k]) for k, g in enumerate(GRADES)}}
            for name, p in sets.items() for i, image_id in enumerate(p.image_ids)]


def _prediction_schema():
    import pyarrow as pa

    return pa.schema([("image_id", pa.string()), ("split", pa.string()), ("grade", pa.int64())]
                     + [(f"p_{g}", pa.float64()) for g in GRADES])


def _log(layout: StateLayout, record: dict[str, Any], report: dict[str, Any], version) -> str:
    import mlflow

    from skinrisk.tracking import register

    connect(layout)
    with mlflow.start_run(run_id=record["run_id"]):
        mlflow.log_metrics(flat_metrics(report))
        mlflow.log_artifacts(str(layout.metrics), "evaluation")
        validation = layout.workspace / VALIDATION
        if validation.is_dir():
            mlflow.log_artifacts(str(validation), "data_validation")
        mlflow.set_tags({"evaluate.data_version": version.tag,
                         "evaluate.shards_md5": version.shards_md5})
        assignments = read_rows(layout.workspace / ASSIGNMENTS)
        for name in report["sets"]:
            members = [{"image_id": r["image_id"], "grade": r["grade"], "patient": r["patient"],
                        "source": r["source"]} for r in assignments if r["split"] == name]
            log_dataset(f"{version.tag}/{name}", members, version.shards_md5,
                        dvc_source(git_remote(layout), version.tag, SHARDS), "evaluation")
    existing = mlflow.MlflowClient().search_model_versions(
        f"name='{MODEL_NAME}' and run_id='{record['run_id']}'")
    tags = {"data.version": record["data_version"], "run_key": record["run_key"],
            "code.commit": record.get("code.commit", "unknown")}
    if existing:
        number = str(existing[0].version)
        mlflow.MlflowClient().set_registered_model_alias(MODEL_NAME, CHALLENGER, number)
        return number
    return register(record["model_uri"], tags, CHALLENGER)


def summary_table(report: dict[str, Any]) -> Table:
    pct = round(report["confidence"] * 100)
    table = Table(title=f"evaluate ({pct}% CI by patient-level bootstrap)")
    for column in ("set", "n", "macro AUC", *(f"AUC {g}" for g in GRADES), "accuracy"):
        table.add_column(column, justify="right" if column != "set" else "left")
    for name, f in report["sets"].items():
        if not f["n"]:
            table.add_row(name, "0", "-", "-", "-", "-", "-")
            continue
        table.add_row(name, str(f["n"]), _with_ci(f["macro_auc"], f["macro_auc_ci"]),
                      *(_with_ci(f["grades"][g]["auc"], f["grades"][g]["auc_ci"])
                        for g in GRADES), _fmt(f["accuracy"]))
    ood = report.get("ood") or {}
    table.add_row("ood (graded low-risk)", str(ood.get("n", 0)), "", "", "", "",
                  _fmt(ood.get("accuracy")))
    return table


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _with_ci(value: float | None, ci: list[float | None] | None) -> str:
    if value is None:
        return "n/a"
    if not ci or None in ci:
        return f"{value:.3f}"
    return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def main(argv: list[str] | None = None) -> int:
    return run_app(command, argv, prog_name="skinrisk evaluate")


if __name__ == "__main__":
    raise SystemExit(main())

"""`skinrisk report`: one report per DAG run, from the records the stages wrote."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import typer

from pipelines.common import PARAMS_OPTION, load_params, out, run_app
from skinrisk.audit.archive import ledger_archive, publish_ledger
from skinrisk.layout import StateLayout
from skinrisk.localfs import atomic_write
from skinrisk.reports import decisions_of_run, failures, render, run_folder
from skinrisk.versioning.checkout import checkout_version
from skinrisk.versioning.current import SHARDS_DIR, SPLITS_FILE, current_version

DAG_OPTION = typer.Option(None, "--dag-id", envvar="AIRFLOW_CTX_DAG_ID", help="DAG id.")
RUN_OPTION = typer.Option(None, "--run-id", envvar="AIRFLOW_CTX_DAG_RUN_ID", help="Run id.")
CHECK_OPTION = typer.Option(None, "--retrain-check", help="The retrain check's JSON line.")


def command(params_path: Path = PARAMS_OPTION, dag_id: str | None = DAG_OPTION,
            run_id: str | None = RUN_OPTION, retrain_check: str | None = CHECK_OPTION) -> None:
    """Write reports/<dag>/<run>/report.{json,md}: check, training, evaluation, decisions,
    failures."""
    layout = StateLayout.from_env()
    dag_id, run_id = dag_id or "manual", run_id or "manual"
    folder = run_folder(layout, dag_id, run_id)
    check = json.loads(retrain_check) if retrain_check else None
    decisions = decisions_of_run(layout, run_id)
    trained_here = bool(decisions) or (check or {}).get("retrain")
    train, evaluation = _training(layout, params_path) if trained_here else (None, None)
    report = {
        "dag_id": dag_id, "run_id": run_id,
        "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "retrain_check": check,
        "train": train,
        "evaluation": evaluation,
        "decisions": [{k: d[k] for k in ("decision_id", "verdict", "applied", "reasons")}
                      for d in decisions],
        "failures": failures(layout, dag_id, run_id),
    }
    report["outcome"] = ("failed" if report["failures"] else
                         decisions[-1]["verdict"] if decisions else
                         "skipped: " + check["why"] if check and not check["retrain"] else "done")
    atomic_write(folder / "report.json", (json.dumps(report, indent=2) + "\n").encode())
    atomic_write(folder / "report.md", render(report).encode())
    # Every DAG run ends with the ledger archived beside the data, its events included.
    publish_ledger(layout, ledger_archive(layout))
    out.print(f"report: {folder / 'report.md'} ({report['outcome']})")


def _training(layout: StateLayout, params_path: Path
              ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The training's record and the evaluation's figures per test set: from this disk where
    the training ran here, else (training on a GPU worker, this on another machine) the run
    key's record on the working prefix and the evaluation its MLflow run holds."""
    train_file, evaluation = layout.models / "train.json", layout.metrics / "evaluate.json"
    if train_file.is_file() or not layout.work_url:
        return (json.loads(train_file.read_text()) if train_file.is_file() else None,
                {k: {"n": v.get("n"), "macro_auc": v.get("macro_auc")}
                 for k, v in json.loads(evaluation.read_text())["sets"].items()}
                if evaluation.is_file() else None)
    from pipelines.train import NotTrained, trained_record

    checkout_version(layout, (SPLITS_FILE, f"{SHARDS_DIR}/index.parquet"))
    try:
        record = trained_record(layout, load_params(params_path), current_version(layout),
                                with_model=False)
    except NotTrained:
        return None, None  # not trained (a failed training: the failures say why)
    return record, _evaluated(layout, record["run_id"])


def _evaluated(layout: StateLayout, run_id: str) -> dict[str, Any] | None:
    import mlflow

    from skinrisk.evaluation.predict import TEST_SETS
    from skinrisk.tracking import connect

    connect(layout)
    metrics = mlflow.MlflowClient().get_run(run_id).data.metrics
    sets = {name: {"n": int(metrics[f"{name}_n"]), "macro_auc": metrics.get(f"{name}_macro_auc")}
            for name in TEST_SETS if f"{name}_n" in metrics}
    return sets or None


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("COLUMNS", "120")
    return run_app(command, argv, prog_name="skinrisk report")


if __name__ == "__main__":
    raise SystemExit(main())

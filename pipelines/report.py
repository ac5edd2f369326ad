"""`skinrisk report`: one report per DAG run, from the records the stages wrote."""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any

import typer

from pipelines.common import out, run_app
from skinrisk.audit.archive import ledger_archive, publish_ledger
from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout
from skinrisk.localfs import atomic_write, write_json
from skinrisk.reports import decisions_of_run, failures, keep_report, render, run_folder
from skinrisk.splitting.assign import CROSS_ETHNIC, HELDOUT
from skinrisk.training.checkpoint_mirror import trained_mirror

DAG_OPTION = typer.Option(None, "--dag-id", envvar="AIRFLOW_CTX_DAG_ID", help="DAG id.")
RUN_OPTION = typer.Option(None, "--run-id", envvar="AIRFLOW_CTX_DAG_RUN_ID", help="Run id.")
CHECK_OPTION = typer.Option(None, "--retrain-check", help="The retrain check's JSON line.")
TRAINED_OPTION = typer.Option(None, "--trained", envvar="SKINRISK_TRAINED", help="The train "
                              "task's JSON line (its run key): the training is read from the "
                              "working prefix, not from this disk.")
TRAIN_RECORD, EVALUATION_REPORT = "train.json", "evaluate.json"


def command(dag_id: str | None = DAG_OPTION, run_id: str | None = RUN_OPTION,
            retrain_check: str | None = CHECK_OPTION, trained: str | None = TRAINED_OPTION
            ) -> None:
    """Write reports/<dag>/<run>/report.{json,md}: check, training, evaluation, decisions,
    failures."""
    layout = StateLayout.from_env()
    dag_id, run_id = dag_id or "manual", run_id or "manual"
    folder = run_folder(layout, dag_id, run_id)
    check = json.loads(retrain_check) if retrain_check else None
    decisions = decisions_of_run(layout, run_id)
    trained_here = bool(decisions) or (check or {}).get("retrain")
    train, evaluation = _training(layout, trained) if trained_here else (None, None)
    report = {
        "dag_id": dag_id, "run_id": run_id,
        "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "retrain_check": check,
        "train": train,
        "evaluation": evaluation,
        "decisions": [{k: d[k] for k in ("decision_id", "verdict", "applied", "reasons")}
                      for d in decisions],
    }
    report["failures"], report["failures_unreadable"] = failures(layout, dag_id, run_id)
    report["outcome"] = ("failed" if report["failures"] else
                         decisions[-1]["verdict"] if decisions else
                         "skipped: " + check["why"] if check and not check["retrain"] else "done")
    write_json(folder / "report.json", report)
    atomic_write(folder / "report.md", render(report).encode())
    keep_report(layout, dag_id, run_id, report)
    # Every DAG run ends with the ledger archived beside the data, its events included.
    publish_ledger(layout, ledger_archive(layout))
    out.print(f"report: {folder / 'report.md'} ({report['outcome']})")


def _training(layout: StateLayout, trained: str | None
              ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The training's record and the evaluation's figures per test set.

    ``trained`` is the train task's JSON line as the DAG passes it: with a working prefix, the
    run key's record there and the MLflow run's figures (the training ran on a GPU worker, not
    on this disk); "null" when this run's train task produced nothing (skipped, failed): no
    training, whatever an earlier one left on this disk. Without it (a report run by hand) or
    without a working prefix (the embedded default), the files on this disk."""
    result = json.loads(trained) if trained is not None else {}
    if result is None:
        return None, None
    if layout.work_url and result.get("run_key"):
        return _trained_elsewhere(layout, result["run_key"])
    train_file, evaluation = layout.models / TRAIN_RECORD, layout.metrics / EVALUATION_REPORT
    return (json.loads(train_file.read_text()) if train_file.is_file() else None,
            {k: {"n": v.get("n"), "macro_auc": v.get("macro_auc")}
             for k, v in json.loads(evaluation.read_text())["sets"].items()}
            if evaluation.is_file() else None)


def _trained_elsewhere(layout: StateLayout, key: str
                       ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The run key's finished training on the working prefix and its MLflow run's figures; an
    outage of either makes that part "unavailable" (with why), not a failed report: the report
    is what should tell of an outage."""
    from skinrisk.training.runs import DONE_FILE

    try:
        mirror = trained_mirror(layout.work_url or "", key)
        record = mirror.record(DONE_FILE) if mirror else None
    except SkinriskError as exc:
        return {"run_key": key, "unavailable": str(exc)}, None
    if record is None:  # the train task said it finished: its record must be there
        return {"run_key": key, "unavailable": "no finished-training record on the working "
                "prefix (done.json)"}, None
    record = {k: v for k, v in record.items() if k != "best_model"}
    try:
        return record, _evaluated(layout, record["run_id"])
    except Exception as exc:  # MLflow's errors have no common base but Exception
        return record, {"unavailable": f"MLflow: {type(exc).__name__}: {str(exc)[:300]}"}


def _evaluated(layout: StateLayout, run_id: str) -> dict[str, Any] | None:
    """The figures `skinrisk evaluate` logged for the run (its `sets`: held-out, cross-ethnic)."""
    from skinrisk.tracking import client

    metrics = client(layout).get_run(run_id).data.metrics
    sets = {name: {"n": int(metrics[f"{name}_n"]), "macro_auc": metrics.get(f"{name}_macro_auc")}
            for name in (HELDOUT, CROSS_ETHNIC) if f"{name}_n" in metrics}
    return sets or None


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("COLUMNS", "120")
    return run_app(command, argv, prog_name="skinrisk report")


if __name__ == "__main__":
    raise SystemExit(main())

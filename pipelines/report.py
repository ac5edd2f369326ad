"""`skinrisk report`: one report per DAG run, from the records the stages wrote."""

from __future__ import annotations

import datetime as dt
import json
import os

import typer

from pipelines.common import out, run_app
from skinrisk.audit.archive import ledger_archive, publish_ledger
from skinrisk.layout import StateLayout
from skinrisk.localfs import atomic_write
from skinrisk.reports import decisions_of_run, failures, render, run_folder

DAG_OPTION = typer.Option(None, "--dag-id", envvar="AIRFLOW_CTX_DAG_ID", help="DAG id.")
RUN_OPTION = typer.Option(None, "--run-id", envvar="AIRFLOW_CTX_DAG_RUN_ID", help="Run id.")
CHECK_OPTION = typer.Option(None, "--retrain-check", help="The retrain check's JSON line.")


def command(dag_id: str | None = DAG_OPTION, run_id: str | None = RUN_OPTION,
            retrain_check: str | None = CHECK_OPTION) -> None:
    """Write reports/<dag>/<run>/report.{json,md}: check, training, evaluation, decisions,
    failures."""
    layout = StateLayout.from_env()
    dag_id, run_id = dag_id or "manual", run_id or "manual"
    folder = run_folder(layout, dag_id, run_id)
    check = json.loads(retrain_check) if retrain_check else None
    train_file = layout.models / "train.json"
    evaluation = layout.metrics / "evaluate.json"
    decisions = decisions_of_run(layout, run_id)
    trained_here = bool(decisions) or (check or {}).get("retrain")
    report = {
        "dag_id": dag_id, "run_id": run_id,
        "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "retrain_check": check,
        "train": json.loads(train_file.read_text()) if trained_here and train_file.is_file()
        else None,
        "evaluation": {k: {"n": v.get("n"), "macro_auc": v.get("macro_auc")}
                       for k, v in json.loads(evaluation.read_text())["sets"].items()}
        if trained_here and evaluation.is_file() else None,
        "decisions": [{k: d[k] for k in ("decision_id", "verdict", "applied", "reasons")}
                      for d in decisions],
        "failures": failures(folder),
    }
    report["outcome"] = ("failed" if report["failures"] else
                         decisions[-1]["verdict"] if decisions else
                         "skipped: " + check["why"] if check and not check["retrain"] else "done")
    atomic_write(folder / "report.json", (json.dumps(report, indent=2) + "\n").encode())
    atomic_write(folder / "report.md", render(report).encode())
    # Every DAG run ends with the ledger archived beside the data, its events included.
    publish_ledger(layout, ledger_archive(layout))
    out.print(f"report: {folder / 'report.md'} ({report['outcome']})")


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("COLUMNS", "120")
    return run_app(command, argv, prog_name="skinrisk report")


if __name__ == "__main__":
    raise SystemExit(main())

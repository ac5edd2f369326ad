"""An evaluation logged to its training's MLflow run, and the model registered as the
challenger: a new version of skinrisk-xception, or, when the run's model is registered already
(a rerun), that version given the alias again, so nothing is registered twice."""

from __future__ import annotations

from typing import Any

from skinrisk.catalog import ASSIGNMENTS, SHARDS, VALIDATION
from skinrisk.evaluation.report import flat_metrics
from skinrisk.layout import StateLayout
from skinrisk.storage.tables import read_rows
from skinrisk.tracking import CHALLENGER, connect, dvc_source, log_dataset, register_once
from skinrisk.training.runs import TrainingRecord
from skinrisk.versioning.current import DataVersion
from skinrisk.versioning.workspace import git_remote


def log_evaluation(layout: StateLayout, record: TrainingRecord, report: dict[str, Any],
                   version: DataVersion) -> str:
    """Metrics, the metrics folder, TFDV's verdicts and the test sets on the training's run
    (``record``: its training record); returns the challenger's version number."""
    import mlflow

    connect(layout)
    with mlflow.start_run(run_id=record.run_id):
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
    tags = {"data.version": record.data_version, "run_key": record.run_key,
            "code.commit": record.code.get("code.commit", "unknown")}
    return register_once(record.run_id, record.model_uri, tags, CHALLENGER)

"""`skinrisk evaluate --model REF --batch ID ...`: a registered model on ingested batches it never
trained on (an external evaluation; the rules are in skinrisk.evaluation.external).

Writes evaluate.json, predictions.parquet and the ROC and confusion PNGs under
$SKINRISK_HOME/evaluations/<model>-<version>-<images digest>/; logs them as a run of its own,
tagged evaluation.kind=external; records an `external_evaluation` ledger event, which
`skinrisk audit model` lists. Registers no model version and moves no alias.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

from pipelines.common import load_params, out
from pipelines.evaluation_table import summary_table
from skinrisk import ledger
from skinrisk.batch import check_batch_id
from skinrisk.catalog import CURATED_MANIFEST, QUALITY_QUARANTINE
from skinrisk.evaluation.external import (
    EXTERNAL,
    Cohort,
    check_unseen,
    headline,
    pack_settings,
    predict_cohort,
    select_cohort,
    shared_patients,
    trained_images,
)
from skinrisk.evaluation.outputs import PLOTS, PREDICTIONS, REPORT, write_outputs
from skinrisk.evaluation.report import evaluate_sets, flat_metrics
from skinrisk.layout import StateLayout
from skinrisk.ledger import Event
from skinrisk.storage.rawzone import RawZone
from skinrisk.storage.tables import read_rows
from skinrisk.tracking import (
    client,
    code_version,
    connect,
    context_tags,
    load_keras,
    log_evaluation_run,
)


def run(params_path: Path, ref: str, batch_ids: list[str]) -> None:
    from skinrisk.audit.model import RunArtifacts, resolve
    from skinrisk.tracking import IMAGES_ARTIFACT, PARAMS_ARTIFACT

    params = load_params(params_path)
    layout = StateLayout.from_env()
    batches = [check_batch_id(b) for b in batch_ids]
    experiment = connect(layout)
    version = resolve(client(None), ref)  # connected above
    subject = f"{version.name}/{version.version}"
    raw = RawZone(layout.raw, layout.quarantine)
    cohort = _cohort(layout, raw, batches)
    recorded = RunArtifacts(version.run_id)
    trained = trained_images(recorded.json(IMAGES_ARTIFACT), subject)
    check_unseen(cohort, trained, subject)
    model = load_keras(f"models:/{subject}")
    pack = pack_settings(recorded.json(PARAMS_ARTIFACT), params.pack.image_size,
                         params.pack.jpeg_quality)
    formats = {r["image_id"]: r["format"] for r in cohort.rows}
    with tempfile.TemporaryDirectory() as scratch:
        sets = predict_cohort(model, cohort, lambda r: raw.image_path(
            r["batch_id"], r["image_id"], formats[r["image_id"]]).read_bytes(), pack,
            int(model.input_shape[1]), Path(scratch))
    ev = params.evaluate
    report = evaluate_sets(sets, ev.bootstrap_resamples, ev.confidence, ev.seed, ev.slices)
    report.update(kind=EXTERNAL, model=subject, model_run_id=version.run_id,
                  batches=list(cohort.batches), images=len(cohort.rows),
                  images_sha256=cohort.digest, packed_at=pack[0],
                  patients_also_in_training=shared_patients(cohort, trained,
                                                            raw.known_images()))
    folder = layout.evaluations / f"{version.name}-{version.version}-{cohort.digest[:12]}"
    write_outputs(folder, report, sets)
    run_id = log_evaluation_run(experiment, f"external {subject} on {'+'.join(cohort.batches)}",
                                _tags(version, cohort), flat_metrics(report), folder)
    ledger.record(layout, Event.EXTERNAL_EVALUATION, {
        "run_id": run_id, "model": subject, "model_version": str(version.version),
        "model_run_id": version.run_id, "batches": list(cohort.batches),
        "images": len(cohort.rows), "images_sha256": cohort.digest,
        "report_sha256": hashlib.sha256((folder / REPORT).read_bytes()).hexdigest(),
        "figures": headline(report)})
    out.print(summary_table(report))
    shared = report["patients_also_in_training"]
    if shared:
        out.print(f"note: {shared} patient(s) of these batches also have training images "
                  "(new photos, not the same ones); their results are not independent")
    out.print(f"evaluate: {subject} on {', '.join(cohort.batches)} ({len(cohort.rows)} "
              f"images): {folder / REPORT}, {folder / PREDICTIONS}, {folder / PLOTS}/; "
              f"MLflow run {run_id} (external; the registry is unchanged)")


def _cohort(layout: StateLayout, raw: RawZone, batches: list[str]) -> Cohort:
    curated = layout.workspace / CURATED_MANIFEST
    rows = read_rows(curated) if curated.is_file() else []
    refused = layout.workspace / QUALITY_QUARANTINE
    judged = {r["batch_id"] for r in rows} | (
        {r["batch_id"] for r in read_rows(refused)} if refused.is_file() else set())
    return select_cohort(batches, raw.committed_batches(), judged, rows)


def _tags(version: Any, cohort: Cohort) -> dict[str, str]:
    return {"stage": "evaluate", "evaluation.kind": EXTERNAL,
            "evaluation.model": version.name, "evaluation.model_version": str(version.version),
            "evaluation.model_run_id": version.run_id,
            "evaluation.batches": ",".join(cohort.batches),
            "evaluation.images": str(len(cohort.rows)),
            "evaluation.images_sha256": cohort.digest, **code_version(), **context_tags()}

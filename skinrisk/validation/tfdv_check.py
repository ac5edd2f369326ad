"""One batch through TFDV: statistics on Beam, schema anomalies, drift, slices.

The same call runs on Beam's DirectRunner (default) or, given pipeline options, on Flink, Spark
or Dataflow: statistics come from `tfdv.generate_statistics_from_csv`, a Beam pipeline.
"""

from __future__ import annotations

import contextlib
import csv
import io
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skinrisk.config import ValidateParams
from skinrisk.validation.features import FEATURES

DEFAULT_SLICE = "All Examples"
STATISTICS = "statistics.tfrecord"
ANOMALIES = "anomalies.pbtxt"


@dataclass(frozen=True)
class Finding:
    feature: str
    kind: str  # "schema" | "drift"
    description: str


@dataclass(frozen=True)
class Drift:
    feature: str
    measure: str  # "jensen_shannon" | "infinity_norm"
    value: float
    threshold: float


@dataclass
class Verdict:
    batch_id: str
    rows: int
    baseline_rows: int  # 0: no baseline (the first batch)
    findings: list[Finding] = field(default_factory=list)
    drift: list[Drift] = field(default_factory=list)
    slices: dict[str, int] = field(default_factory=dict)
    status: str = "passed"  # passed | warned | failed


def _tfdv() -> Any:
    """Import TFDV with its import-time chatter (IPython, deprecations) kept out of the log."""
    import logging
    import warnings

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        # TFDV writes "Unable to import IPython" straight to stderr at import.
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore", FutureWarning)
            import tensorflow_data_validation as tfdv
    finally:
        root.setLevel(level)
    for name in ("tensorflow", "apache_beam"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return tfdv


def _write_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(FEATURES))
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in r.items()} for r in rows)
    return path


def _statistics(rows: list[dict[str, Any]], params: ValidateParams, work: Path, name: str,
                output: Path | None = None, sliced: bool = False) -> Any:
    from apache_beam.options.pipeline_options import PipelineOptions

    tfdv = _tfdv()
    slicers = [tfdv.experimental_get_feature_value_slicer({f: None}) for f in params.slice_by]
    options = tfdv.StatsOptions(experimental_slice_functions=slicers if sliced else None)
    return tfdv.generate_statistics_from_csv(
        str(_write_csv(rows, work / f"{name}.csv")), stats_options=options,
        pipeline_options=PipelineOptions(list(params.beam_args)),
        output_path=str(output) if output else None)


def load_schema(path: Path, params: ValidateParams) -> Any:
    """The curated schema with the drift comparators of params.yaml applied."""
    tfdv = _tfdv()
    schema = tfdv.load_schema_text(str(path))
    for feature, threshold in params.drift.items():
        comparator = tfdv.get_feature(schema, feature).drift_comparator
        if threshold.jensen_shannon is not None:
            comparator.jensen_shannon_divergence.threshold = threshold.jensen_shannon
        else:
            comparator.infinity_norm.threshold = threshold.infinity_norm  # type: ignore[assignment]
    return schema


def validate_rows(batch_id: str, rows: list[dict[str, Any]], baseline: list[dict[str, Any]],
                  schema_path: Path, params: ValidateParams, out_dir: Path) -> Verdict:
    """Validate one batch's rows against the schema and the baseline; keep TFDV's files."""
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    tfdv = _tfdv()
    out_dir.mkdir(parents=True, exist_ok=True)
    if not rows:  # every image of the batch left at ingest or quality: nothing to describe
        verdict = Verdict(batch_id, 0, len(baseline), [Finding(
            "(batch)", "schema", "no image of this batch reached the curated dataset")])
        verdict.status = _status(verdict, params)
        return verdict
    schema = load_schema(schema_path, params)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        stats = _statistics(rows, params, work, "batch", out_dir / STATISTICS, sliced=True)
        previous = _statistics(baseline, params, work, "baseline") if baseline else None
    default = tfdv.get_slice_stats(stats, DEFAULT_SLICE)
    anomalies = tfdv.validate_statistics(default, schema, previous_statistics=previous)
    tfdv.write_anomalies_text(anomalies, str(out_dir / ANOMALIES))
    verdict = Verdict(batch_id, len(rows), len(baseline))
    type_name = anomalies_pb2.AnomalyInfo.Type.Name
    for feature, info in sorted(anomalies.anomaly_info.items()):
        for reason in info.reason:
            kind = "drift" if type_name(reason.type).startswith("COMPARATOR_") else "schema"
            verdict.findings.append(Finding(feature, kind, reason.description))
    for info in anomalies.drift_skew_info:
        for m in info.drift_measurements:
            measure = "jensen_shannon" if m.type == m.JENSEN_SHANNON_DIVERGENCE else "infinity_norm"
            verdict.drift.append(Drift(".".join(info.path.step), measure, m.value, m.threshold))
    verdict.slices = {d.name: int(d.num_examples) for d in stats.datasets}
    verdict.status = _status(verdict, params)
    return verdict


def _status(verdict: Verdict, params: ValidateParams) -> str:
    kinds = {f.kind for f in verdict.findings}
    if not kinds:
        return "passed"
    fails = ("schema" in kinds and params.on_anomaly == "fail") or \
        ("drift" in kinds and params.on_drift == "fail")
    return "failed" if fails else "warned"

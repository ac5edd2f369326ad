"""One batch through TFDV: statistics on Beam, schema anomalies, drift, slices.

The rows reach TFDV as a TFRecord of tf.train.Example (text as bytes, numbers as the schema's
INT or FLOAT), never as text to parse, so no value's content (a newline, a quote, NUL) can
change what TFDV reads. Statistics come from `tfdv.generate_statistics_from_tfrecord`, a Beam
pipeline: the same call runs on Beam's DirectRunner (default) or, given pipeline options, on
Flink, Spark or Dataflow.

Nothing a hospital sent is echoed in a finding, verdict.json, report.md or anomalies.pbtxt:
findings carry TFDV's anomaly type and short description (its long description quotes the
unexpected values), slices are made only for values the schema lists, and a batch whose
statistics fail gets a failed verdict naming the exception's type, not its text.
"""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skinrisk.config import ValidateParams
from skinrisk.errors import SkinriskError
from skinrisk.feature_names import SCHEMA_TYPE
from skinrisk.localfs import atomic_write
from skinrisk.validation.features import (
    REPORT_MISSING,
    Encoded,
    encode_record,
    missing_share,
)

log = logging.getLogger(__name__)

DEFAULT_SLICE = "All Examples"
STATISTICS = "statistics.tfrecord"
ANOMALIES = "anomalies.pbtxt"
_LIST = {"BYTES": "bytes_list", "INT": "int64_list", "FLOAT": "float_list"}


@dataclass(frozen=True)
class Finding:
    feature: str
    # "schema" | "drift" | "error" (statistics could not be computed) | "missing" (a share of
    # values absent, reported beside drift; it never changes the status)
    kind: str
    description: str  # never a data value: TFDV's anomaly type and short description


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


class StatisticsError(SkinriskError):
    """A batch's (or its baseline's) statistics could not be computed; the text quotes no value."""

    where = "?"  # file:line that raised, for the log


def _tfdv() -> Any:
    """Import TFDV with its import-time chatter (IPython, deprecations) kept out of the log."""
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


def _example(values: dict[str, Encoded]) -> Any:
    from tensorflow.core.example import example_pb2

    example = example_pb2.Example()
    for name, (kind, value) in values.items():
        getattr(example.features.feature[name], _LIST[kind]).value.extend(value)
    return example


def _write_examples(rows: list[dict[str, Any]], path: Path) -> Path:
    import tensorflow as tf

    with tf.io.TFRecordWriter(str(path)) as writer:
        for index, record in enumerate(rows):
            writer.write(_example(encode_record(record, index)).SerializeToString())
    return path


def _statistics(rows: list[dict[str, Any]], params: ValidateParams, work: Path, name: str,
                slicers: list[Any]) -> tuple[Any, Path]:
    """Statistics of ``rows`` and the file Beam wrote them to, all under ``work``."""
    from apache_beam.options.pipeline_options import PipelineOptions

    tfdv = _tfdv()
    output = work / name / STATISTICS  # Beam's beam-temp-* folders go beside it, in work
    stats = tfdv.generate_statistics_from_tfrecord(
        str(_write_examples(rows, work / f"{name}.tfrecord")), output_path=str(output),
        stats_options=tfdv.StatsOptions(experimental_slice_functions=slicers or None),
        pipeline_options=PipelineOptions(list(params.beam_args)))
    return stats, output


def _batch_statistics(rows: list[dict[str, Any]], baseline: list[dict[str, Any]],
                      slicers: list[Any], params: ValidateParams, out_dir: Path
                      ) -> tuple[Any, Any]:
    """The batch's sliced statistics (kept in out_dir) and its baseline's, or StatisticsError.

    A failing baseline fails the batch too: a verdict without the drift check would pass a batch
    nobody compared. Baseline rows come from batches whose own statistics succeeded, so what
    fails here is Beam, not a value, and `validate --batch` retries.
    """
    with tempfile.TemporaryDirectory(prefix="skinrisk-validate-") as tmp:
        stage = "statistics"
        # Beam re-raises a worker's error as whatever type it was (ValueError, OSError,
        # pyarrow's ...), so no narrower class means "this batch's statistics failed". It is
        # not swallowed: it becomes the batch's failed verdict, and the log says where.
        try:
            stats, written = _statistics(rows, params, Path(tmp), "batch", slicers)
            stage = "baseline statistics"
            previous = (_statistics(baseline, params, Path(tmp), "baseline", [])[0]
                        if baseline else None)
        except Exception as exc:
            raise _failure(stage, exc) from None
        atomic_write(out_dir / STATISTICS, written.read_bytes())
    return stats, previous


def _failure(stage: str, exc: Exception) -> StatisticsError:
    """One line for the verdict: the type only, since an exception's text may quote a value."""
    own = f": {exc}" if isinstance(exc, SkinriskError) else ""  # ours never quote a value
    error = StatisticsError(f"{stage} could not be computed ({type(exc).__name__}{own})")
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    error.where = f"{frame.filename}:{frame.lineno}" if frame else "?"
    return error


def _slicers(tfdv: Any, schema: Any, params: ValidateParams) -> list[Any]:
    """One slicer per slice_by feature, on the values its schema domain lists.

    A slice is named after its value: a value the schema does not list (a hospital's free
    text) gets no slice of its own, so no report names it. It still counts in All Examples.
    """
    slicers = []
    for name in params.slice_by:
        try:
            values = [v.encode() for v in tfdv.get_domain(schema, name).value]
        except (ValueError, AttributeError):  # no such feature, no domain, not a string one
            values = []
        if not values:
            raise SkinriskError(
                f"validate.slice_by names {name}, which has no string_domain in the schema: "
                "a slice is named after its value and only the schema's values may appear in "
                f"a report. Add a string_domain for {name} or drop it from slice_by")
        slicers.append(tfdv.experimental_get_feature_value_slicer({name: values}))
    return slicers


def load_schema(path: Path, params: ValidateParams) -> Any:
    """The curated schema with the drift comparators of params.yaml applied."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    tfdv = _tfdv()
    schema = tfdv.load_schema_text(str(path))
    for feature in schema.feature:
        kind = schema_pb2.FeatureType.Name(feature.type)
        if SCHEMA_TYPE.get(feature.name, kind) != kind:
            raise SkinriskError(
                f"{path}: feature {feature.name} is {kind}, but validate writes it as "
                f"{SCHEMA_TYPE[feature.name]} (skinrisk/validation/features.py); make them agree")
    for feature, threshold in params.drift.items():
        comparator = tfdv.get_feature(schema, feature).drift_comparator
        if threshold.jensen_shannon is not None:
            comparator.jensen_shannon_divergence.threshold = threshold.jensen_shannon
        else:
            comparator.infinity_norm.threshold = threshold.infinity_norm  # type: ignore[assignment]
    return schema


def validate_rows(batch_id: str, rows: list[dict[str, Any]], baseline: list[dict[str, Any]],
                  schema_path: Path, params: ValidateParams, out_dir: Path) -> Verdict:
    """Validate one batch's rows against the schema and the baseline; keep TFDV's files.

    Statistics that cannot be computed give a failed verdict naming the batch, not an error.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("beam-temp-*"):  # Beam's, from runs that wrote statistics here
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    verdict = Verdict(batch_id, len(rows), len(baseline))
    if not rows:  # every image of the batch left at ingest or quality: nothing to describe
        verdict.findings.append(Finding(
            "(batch)", "schema", "no image of this batch reached the curated dataset"))
        return _with_status(verdict, params)
    schema = load_schema(schema_path, params)
    try:
        stats, previous = _batch_statistics(rows, baseline, _slicers(_tfdv(), schema, params),
                                            params, out_dir)
    except StatisticsError as exc:
        log.error("batch %s: %s, raised at %s", batch_id, exc, exc.where)
        for name in (STATISTICS, ANOMALIES):  # an earlier run's, no longer this verdict's
            (out_dir / name).unlink(missing_ok=True)
        verdict.findings.append(Finding("(batch)", "error", f"batch {batch_id}: {exc}"))
        return _with_status(verdict, params)
    verdict = _judge(verdict, stats, previous, schema, params, out_dir)
    verdict.findings += _missing(rows, baseline)
    return verdict


def _missing(rows: list[dict[str, Any]], baseline: list[dict[str, Any]]) -> list[Finding]:
    """One line per REPORT_MISSING feature with absent values here or in the baseline."""
    findings = []
    for name in REPORT_MISSING:
        count, share = missing_share(rows, name)
        _, before = missing_share(baseline, name)
        if count or before:
            was = f"baseline {before:.1%}" if before is not None else "no baseline"
            findings.append(Finding(name, "missing", f"missing in {count} of {len(rows)} "
                                    f"images ({share:.1%}; {was}); drift compares known "
                                    "values only"))
    return findings


def _judge(verdict: Verdict, stats: Any, previous: Any, schema: Any, params: ValidateParams,
           out_dir: Path) -> Verdict:
    from google.protobuf import text_format

    tfdv = _tfdv()
    anomalies = tfdv.validate_statistics(tfdv.get_slice_stats(stats, DEFAULT_SLICE), schema,
                                         previous_statistics=previous)
    _withhold_values(anomalies)
    atomic_write(out_dir / ANOMALIES, text_format.MessageToString(anomalies).encode())
    verdict.findings = _findings(anomalies)
    verdict.drift = [
        Drift(".".join(info.path.step), "jensen_shannon"
              if m.type == m.JENSEN_SHANNON_DIVERGENCE else "infinity_norm", m.value, m.threshold)
        for info in anomalies.drift_skew_info for m in info.drift_measurements]
    verdict.slices = {d.name: int(d.num_examples) for d in stats.datasets}
    return _with_status(verdict, params)


def _withhold_values(anomalies: Any) -> None:
    """Clear what can quote a value: long descriptions ("...: Yolanda (~50%)"), diff regions."""
    infos = list(anomalies.anomaly_info.values())
    if anomalies.HasField("dataset_anomaly_info"):
        infos.append(anomalies.dataset_anomaly_info)
    for info in infos:
        info.ClearField("description")
        info.ClearField("diff_regions")
        for reason in info.reason:
            reason.ClearField("description")


def _findings(anomalies: Any) -> list[Finding]:
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    type_name = anomalies_pb2.AnomalyInfo.Type.Name
    infos = sorted(anomalies.anomaly_info.items())
    if anomalies.HasField("dataset_anomaly_info"):
        infos.append(("(dataset)", anomalies.dataset_anomaly_info))
    findings = []
    for feature, info in infos:
        for reason in info.reason:
            name = type_name(reason.type)
            kind = "drift" if name.startswith("COMPARATOR_") else "schema"
            findings.append(Finding(feature, kind, f"{name}: {reason.short_description}"))
    return findings


def _with_status(verdict: Verdict, params: ValidateParams) -> Verdict:
    kinds = {f.kind for f in verdict.findings} - {"missing"}  # a share to read, not a verdict
    fails = "error" in kinds or ("schema" in kinds and params.on_anomaly == "fail") or \
        ("drift" in kinds and params.on_drift == "fail")
    verdict.status = "failed" if fails else "warned" if kinds else "passed"
    return verdict

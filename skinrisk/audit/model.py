"""`skinrisk audit model`: one model's whole chain, from the photos' batches to who promoted it.

Four independent records are read and cross-checked: the MLflow registry and run (params,
tags, artifacts), the audit ledger (what each stage said when it ran, hash-chained), the dataset
version (git tag + DVC objects, re-hashed on read) and the decision records. A trace whose
records disagree is reported with the disagreement named and makes the command exit 1.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import tempfile
from pathlib import Path
from typing import Any

from skinrisk import ledger
from skinrisk.audit.external import external_evaluations
from skinrisk.audit.trace import (
    Check,
    composition,
    equal_check,
    membership_check,
    related_entries,
)
from skinrisk.audit.versions import DataVersions
from skinrisk.catalog import ASSIGNMENTS, QUALITY_REPORT, SPLIT_SUMMARY, VALIDATION
from skinrisk.digest import canonical_sha256
from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout
from skinrisk.ledger import Event
from skinrisk.promotion.kept import decision_record
from skinrisk.tracking import IMAGES_ARTIFACT, MODEL_NAME, PARAMS_ARTIFACT

EVALUATION_ARTIFACT = "evaluation/evaluate.json"
PREDICTIONS_ARTIFACT = "evaluation/predictions.parquet"
TRAIN_ROLES = ("fit", "validation")
TEST_SETS = ("heldout", "cross_ethnic", "ood")


def resolve(client: Any, ref: str) -> Any:
    """'3', 'champion', 'skinrisk-xception/3', 'skinrisk-xception@champion' or
    'models:/skinrisk-xception/3' -> the registered model version."""
    from mlflow.exceptions import MlflowException

    text = ref.removeprefix("models:/")
    name, sep, rest = text.partition("@") if "@" in text else text.rpartition("/")
    if not sep:
        name, rest = MODEL_NAME, text
    name = name or MODEL_NAME
    try:
        if rest.isdigit():
            return client.get_model_version(name, rest)
        return client.get_model_version_by_alias(name, rest)
    except MlflowException as exc:
        # Only "no such alias" of our model means there is none yet; an unreachable or refusing
        # server, or another model's name, keeps MLflow's own message.
        if rest in ("champion", "previous-champion") and name == MODEL_NAME and (
                exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")):
            raise SkinriskError(f"there is no {rest} yet: no model has been promoted to it "
                                "(`skinrisk promote` moves the alias when a challenger passes "
                                "the gate); audit a version number or `challenger`") from None
        raise SkinriskError(f"no model version {ref!r} in the registry ({exc.message.strip()}); "
                            f"give a version number, an alias such as champion, or "
                            f"{MODEL_NAME}/<version>") from None


def trace_model(layout: StateLayout, client: Any, ref: str, remote: str) -> dict[str, Any]:
    version = resolve(client, ref)
    run = client.get_run(version.run_id)
    tags = run.data.tags
    trained_on = tags.get("data.version")
    evaluated_on = tags.get("evaluate.data_version") or trained_on
    if not trained_on:
        raise SkinriskError(f"run {run.info.run_id} of {version.name}/{version.version} has no "
                            "data.version tag: it was not trained by `skinrisk train`")
    verdict = ledger.check(layout)
    entries = list(ledger.read(layout)) if verdict.ok else _readable_prefix(layout)
    versions = DataVersions(layout.workspace, remote)
    rows = {r["image_id"]: r for r in versions.read_rows(trained_on, ASSIGNMENTS)}
    tested = ({r["image_id"]: r for r in versions.read_rows(evaluated_on, ASSIGNMENTS)}
              if evaluated_on != trained_on else rows)
    artifacts = RunArtifacts(run.info.run_id)
    lists = artifacts.json(IMAGES_ARTIFACT) or {}
    test_ids = _test_sets(artifacts.parquet(PREDICTIONS_ARTIFACT))
    evaluation = artifacts.json(EVALUATION_ARTIFACT)
    batches = sorted({r["batch_id"] for r in rows.values()})
    related = related_entries(entries, run.info.run_id, str(version.version), trained_on,
                              set(batches))
    training = _last(related, Event.TRAINING_RUN)
    decisions = _decisions(layout, related)
    external, external_checks = external_evaluations(
        related, lambda run_id: RunArtifacts(run_id).raw(EVALUATION_ARTIFACT))
    checks = [Check("audit ledger chain", verdict.ok,
                    f"{verdict.entries} entries intact" if verdict.ok else
                    f"entry {verdict.first_bad}: {verdict.why}"),
              *_data_checks(versions, trained_on, tags, related),
              *_image_checks(lists, training, rows, test_ids, tested),
              *_run_checks(training, _last(related, Event.EVALUATION), tags, artifacts),
              *(Check(f"decision record {d['decision_id']}", d["record_intact"],
                      "matches the ledger's sha256" if d["record_intact"] else
                      "differs from the sha256 the ledger holds (edited or missing)")
                for d in decisions),
              *external_checks]
    return {
        "audit": {"kind": "model", "subject": f"{version.name}/{version.version}",
                  "generated_at": _now(), "ledger": {"path": ledger.describe(layout), "entries":
                                                     verdict.entries, "intact": verdict.ok}},
        "model": {"name": version.name, "version": str(version.version),
                  "aliases": sorted(version.aliases or []), "run_id": run.info.run_id,
                  "registered_at": _ms(version.creation_timestamp),
                  "tags": dict(version.tags or {})},
        "training": _training(run, training, artifacts),
        "data": _data(versions, trained_on, evaluated_on, related, batches),
        "images": {**{role: _image_set(lists.get(role), rows) for role in TRAIN_ROLES},
                   **{name: _image_set(test_ids.get(name, []) if test_ids else None, tested)
                      for name in TEST_SETS}},
        "evaluation": _evaluation(evaluation, evaluated_on),
        "external_evaluations": external,
        "decisions": decisions,
        "promotion": _promotion(related, str(version.version)),
        "ledger_entries": related,
        "checks": [c.to_dict() for c in checks],
    }


class RunArtifacts:
    """A run's artifacts, read on demand; None for one the run does not have."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id

    def raw(self, path: str) -> bytes | None:
        import mlflow
        from mlflow.exceptions import MlflowException

        with tempfile.TemporaryDirectory() as folder:
            try:
                local = mlflow.artifacts.download_artifacts(run_id=self.run_id,
                                                            artifact_path=path, dst_path=folder)
            except (MlflowException, OSError):
                return None
            return Path(local).read_bytes() if Path(local).is_file() else None

    def json(self, path: str) -> Any:
        data = self.raw(path)
        return json.loads(data) if data is not None else None

    def parquet(self, path: str) -> list[dict[str, Any]]:
        import pyarrow.parquet as pq

        data = self.raw(path)
        return pq.read_table(io.BytesIO(data)).to_pylist() if data is not None else []


def _readable_prefix(layout: StateLayout) -> list[dict[str, Any]]:
    """A broken chain is still read as far as it parses: the trace says it is unverified."""
    out = []
    try:
        for entry in ledger.read(layout):
            out.append(entry)
    except SkinriskError:  # a line that is not JSON: the prefix before it
        pass
    return out


def _test_sets(predictions: list[dict[str, Any]]) -> dict[str, list[str]]:
    sets: dict[str, list[str]] = {}
    for row in predictions:
        sets.setdefault(row["split"], []).append(row["image_id"])
    return {k: sorted(v) for k, v in sets.items()}


def _last(entries: list[dict[str, Any]], event: str) -> dict[str, Any] | None:
    found = [e for e in entries if e["event"] == event]
    return found[-1] if found else None


def _image_set(ids: list[str] | None, rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if ids is None:
        return {"recorded": False, "ids": [], **composition([], rows)}
    return {"recorded": True, "sha256": canonical_sha256(sorted(ids)), "ids": sorted(ids),
            **composition(ids, rows)}


def _data_checks(versions: DataVersions, tag: str, tags: dict[str, str],
                 related: list[dict[str, Any]]) -> list[Check]:
    outputs = versions.outputs(tag)
    made = [e for e in related if e["event"] == Event.DATASET_VERSION]
    checks = [equal_check(f"{tag}: DVC hashes in the ledger = those of the git tag",
                          made[-1]["data"]["hashes"] if made else None,
                          {k: v for k, v in outputs.items()
                           if k in (made[-1]["data"]["hashes"] if made else {})})]
    run_hashes = {k.removeprefix("dvc."): v for k, v in tags.items() if k.startswith("dvc.")}
    checks.append(equal_check(f"{tag}: DVC hashes on the MLflow run = those of the git tag",
                              run_hashes or None, {k: outputs.get(k) for k in run_hashes}))
    return checks


def _image_checks(lists: dict[str, list[str]], training: dict[str, Any] | None,
                  rows: dict[str, dict[str, Any]], test_ids: dict[str, list[str]],
                  tested: dict[str, dict[str, Any]]) -> list[Check]:
    checks = [equal_check("training image lists (MLflow artifact) = the ledger's digest",
                          (training or {}).get("data", {}).get("images_sha256"),
                          canonical_sha256(lists) if lists else None)]
    split_of = {i: r["split"] for i, r in rows.items()}
    for role in TRAIN_ROLES:
        checks.append(membership_check(f"{role} images are training-split images",
                                       lists.get(role, []), split_of, {"train"}))
    tested_split = {i: r["split"] for i, r in tested.items()}
    for name in ("heldout", "cross_ethnic"):
        expected = sorted(i for i, s in tested_split.items() if s == name)
        checks.append(equal_check(f"{name}: predictions cover exactly the version's {name} set",
                                  canonical_sha256(expected),
                                  canonical_sha256(test_ids.get(name, []))))
    return checks


def _run_checks(training: dict[str, Any] | None, evaluation: dict[str, Any] | None,
                tags: dict[str, str], artifacts: RunArtifacts) -> list[Check]:
    checks = [equal_check("code commit: ledger = MLflow run",
                          (training or {}).get("data", {}).get("code_commit"),
                          tags.get("code.commit"))]
    report = artifacts.raw(EVALUATION_ARTIFACT)
    checks.append(equal_check("evaluation report: MLflow artifact = the ledger's sha256",
                              (evaluation or {}).get("data", {}).get("report_sha256"),
                              hashlib.sha256(report).hexdigest() if report else None))
    return checks


def _training(run: Any, entry: dict[str, Any] | None, artifacts: RunArtifacts) -> dict[str, Any]:
    data = (entry or {}).get("data", {})
    tags = run.data.tags
    return {"run_id": run.info.run_id, "status": run.info.status,
            "started_at": _ms(run.info.start_time), "ended_at": _ms(run.info.end_time),
            "triggered_by": (entry or {}).get("by") or _who(tags),
            "code": {"commit": tags.get("code.commit"), "uncommitted_changes":
                     tags.get("code.dirty") == "True"},
            "environment_locks": data.get("environment_locks", {}),
            "params_sha256": data.get("params_sha256"),
            "params": artifacts.json(PARAMS_ARTIFACT) or dict(run.data.params),
            "best_epoch": data.get("best_epoch"),
            "best_val_macro_auc": run.data.metrics.get("best_val_macro_auc")}


def _who(tags: dict[str, str]) -> str:
    keys = ("airflow.dag_id", "airflow.run_id", "airflow.task_id", "airflow.try_number",
            "triggered_by")
    return ", ".join(f"{k}={tags[k]}" for k in keys if k in tags)


def _data(versions: DataVersions, tag: str, evaluated_on: str, related: list[dict[str, Any]],
          batches: list[str]) -> dict[str, Any]:
    ingested = {e["data"]["batch_id"]: e for e in related if e["event"] == Event.BATCH_INGESTED}
    validation = versions.listing(tag, VALIDATION)
    verdicts = {}
    for relpath in sorted(validation):
        if relpath.endswith("/verdict.json"):
            v = json.loads(versions.object(validation[relpath], f"{tag}:{relpath}"))
            verdicts[v["batch_id"]] = {"status": v["status"], "rows": v["rows"],
                                       "findings": len(v.get("findings", [])),
                                       "drift": v.get("drift", [])}
    return {"version": tag, "commit": versions.commit(tag), "evaluated_on": evaluated_on,
            "dvc": versions.outputs(tag),
            "split_summary": versions.read_json(tag, SPLIT_SUMMARY),
            "quality_report": versions.read_json(tag, QUALITY_REPORT),
            "validation": verdicts,
            "batches": [{"batch_id": b, **({"ingested_at": ingested[b]["at"],
                                            "ingested_by": ingested[b]["by"],
                                            **{k: ingested[b]["data"].get(k) for k in (
                                                "files_in", "accepted", "quarantined_files",
                                                "by_reason", "manifest_sha256")}}
                                           if b in ingested else {"ingested_at": None})}
                        for b in batches]}


def _evaluation(report: dict[str, Any] | None, tag: str) -> dict[str, Any] | None:
    if report is None:
        return None
    sets = {}
    for name, figures in report.get("sets", {}).items():
        sets[name] = {"n": figures.get("n"), "macro_auc": figures.get("macro_auc"),
                      "macro_auc_ci": figures.get("macro_auc_ci"),
                      "accuracy": figures.get("accuracy"),
                      "auc": {g: f.get("auc") for g, f in (figures.get("grades") or {}).items()},
                      "auc_ci": {g: f.get("auc_ci")
                                 for g, f in (figures.get("grades") or {}).items()}}
    return {"data_version": tag, "confidence": report.get("confidence"), "sets": sets,
            "ood": report.get("ood")}


def _decisions(layout: StateLayout, related: list[dict[str, Any]]) -> list[dict[str, Any]]:
    moved = {e["data"]["decision_id"]: e["data"]["applied"]
             for e in related if e["event"] == Event.ALIAS_MOVED}
    out = []
    for entry in related:
        if entry["event"] != Event.GATE_DECISION:
            continue
        data = entry["data"]
        body, where = decision_record(layout, data["decision_id"])
        record = json.loads(body) if body else {}
        out.append({"decision_id": data["decision_id"], "verdict": data["verdict"],
                    "applied": moved.get(data["decision_id"], data["applied"]),
                    "at": entry["at"], "by": entry["by"],
                    "challenger": (data.get("challenger") or {}).get("version"),
                    "champion": (data.get("champion") or {}).get("version"),
                    "reasons": record.get("reasons", []),
                    "record": where, "record_intact": body is not None and
                    hashlib.sha256(body).hexdigest() == data.get("record_sha256")})
    return out


def _promotion(related: list[dict[str, Any]], version: str) -> dict[str, Any] | None:
    """The alias move that made this version champion: who, when, under which decision."""
    moved = [e for e in related if (
        e["event"] == Event.ALIAS_MOVED and str(e["data"]["to"]) == version) or (
        # Ledgers written before alias moves had their own event: the decision said it.
        e["event"] == Event.GATE_DECISION and str(e["data"].get("applied", "")).startswith(
            "champion") and str((e["data"].get("challenger") or {}).get("version")) == version)]
    if not moved:
        return None
    last = moved[-1]
    return {"decision_id": last["data"]["decision_id"], "at": last["at"], "by": last["by"],
            "applied": last["data"]["applied"]}


def _ms(stamp: int | None) -> str | None:
    if stamp is None:
        return None
    return dt.datetime.fromtimestamp(stamp / 1000, dt.UTC).isoformat(timespec="seconds")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


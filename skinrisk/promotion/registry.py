"""The gate's side of the MLflow registry: reading the aliases, loading a version, logging a
decision to the challenger's run, and applying it: compare-and-set on `champion`, rollback.

MLflow moves aliases last-writer-wins. Here every move happens under the promotion lock (one
promotion or rollback at a time on this host; the Airflow `promote` pool of one slot does the
same across workers), and the champion is re-read just before it is moved: if it is not the
version the decision was made against, the move is refused.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from skinrisk.errors import SkinriskError
from skinrisk.tracking import CHALLENGER, CHAMPION, MODEL_NAME, PREVIOUS, load_keras


class AliasConflict(SkinriskError):
    """The champion changed between the decision and its application."""


def alias_version(client: Any, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(MODEL_NAME, alias).version)
    except MlflowException as exc:
        if "RESOURCE_DOES_NOT_EXIST" in str(exc.error_code) or "not found" in str(exc).lower():
            return None
        raise


def model_version(client: Any, version: str) -> Any:
    return client.get_model_version(MODEL_NAME, version)


def describe(client: Any, number: str) -> dict[str, Any]:
    """A version as a decision record names it: its training run and data version."""
    mv = model_version(client, number)
    return {"name": MODEL_NAME, "version": str(number), "run_id": mv.run_id,
            "data_version": (mv.tags or {}).get("data.version")}


def load_model(number: str) -> Any:
    """The Keras model of a registered version."""
    return load_keras(f"models:/{MODEL_NAME}/{number}")


def log_decision(client: Any, rec: dict[str, Any], paths: tuple[Path, ...]) -> None:
    """The decision's record files, verdict and id on the challenger's training run."""
    run_id = rec["challenger"]["run_id"]
    for path in paths:
        client.log_artifact(run_id, str(path), "promotion")
    client.set_tag(run_id, "gate.verdict", rec["verdict"])
    client.set_tag(run_id, "gate.decision", rec["decision_id"])
    client.log_metric(run_id, "gate_promoted", 1.0 if rec["verdict"] == "promote" else 0.0)


def apply_promotion(client: Any, challenger: str, expected_champion: str | None,
                    decision_id: str) -> str:
    """Move `champion` to the challenger if it still points at ``expected_champion``."""
    current = alias_version(client, CHAMPION)
    if current != expected_champion:
        raise AliasConflict(
            f"the champion changed since this decision was made (expected version "
            f"{expected_champion or 'none'}, now {current or 'none'}); nothing was moved. "
            "Rerun `skinrisk promote` to decide against the current champion.")
    now = _now()
    if current is not None:
        client.set_registered_model_alias(MODEL_NAME, PREVIOUS, current)
        client.set_model_version_tag(MODEL_NAME, current, "gate.replaced_by", challenger)
        client.set_model_version_tag(MODEL_NAME, current, "gate.replaced_at", now)
    client.set_registered_model_alias(MODEL_NAME, CHAMPION, challenger)
    client.set_model_version_tag(MODEL_NAME, challenger, "gate.promoted_at", now)
    client.set_model_version_tag(MODEL_NAME, challenger, "gate.decision", decision_id)
    return f"champion {current or 'none'} -> {challenger}" + (
        f"; previous-champion -> {current}" if current else "")


def tag_verdict(client: Any, version: str, verdict: str, decision_id: str) -> None:
    client.set_model_version_tag(MODEL_NAME, version, "gate.verdict", verdict)
    client.set_model_version_tag(MODEL_NAME, version, "gate.decision", decision_id)


def rollback(client: Any, reason: str, by: str) -> tuple[str, str]:
    """champion <- previous-champion; the rolled-back version is tagged with the reason.

    previous-champion is removed rather than swapped: a second rollback must not silently
    bring back the model that was just rolled back.
    """
    current = alias_version(client, CHAMPION)
    previous = alias_version(client, PREVIOUS)
    if previous is None:
        raise SkinriskError("there is no `previous-champion` to roll back to (no promotion "
                            "since the last rollback, or no champion ever replaced)")
    client.set_registered_model_alias(MODEL_NAME, CHAMPION, previous)
    client.delete_registered_model_alias(MODEL_NAME, PREVIOUS)
    now = _now()
    if current is not None:
        for key, value in (("gate.rolled_back_at", now), ("gate.rollback_reason", reason),
                           ("gate.rolled_back_by", by)):
            client.set_model_version_tag(MODEL_NAME, current, key, value)
    client.set_model_version_tag(MODEL_NAME, previous, "gate.restored_at", now)
    return current or "none", previous


def challenger_version(client: Any) -> str | None:
    return alias_version(client, CHALLENGER)


def champion_version(client: Any) -> str | None:
    return alias_version(client, CHAMPION)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

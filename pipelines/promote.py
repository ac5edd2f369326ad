"""`skinrisk promote` and `skinrisk rollback`: the gate, decided then applied.

promote: under the promotion lock, evaluate the challenger AND the current champion on the
current held-out and cross-ethnic sets, decide (skinrisk.promotion.decide, pure), write the
decision record, then move `champion` by compare-and-set. A rejection is a normal outcome
(exit 0); an evaluation error or a changed champion moves nothing (exit 1).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import typer

from pipelines.common import PARAMS_OPTION, load_params, out, run_app, working
from skinrisk import ledger
from skinrisk.audit.archive import ledger_archive, require_intact
from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout
from skinrisk.ledger import Event
from skinrisk.localfs import atomic_write, write_json
from skinrisk.promotion import kept
from skinrisk.records.locks import named_lock
from skinrisk.tracking import CHALLENGER, CHAMPION, MODEL_NAME, connect, context_tags
from skinrisk.versioning.checkout import EVALUATION_INPUTS, checkout_version
from skinrisk.versioning.current import DataVersion, current_version

CHALLENGER_OPTION = typer.Option(None, "--challenger", help="Model version to judge; default: "
                                 "the version with the `challenger` alias.")
DRY_RUN_OPTION = typer.Option(False, "--dry-run", help="Decide and record; move no alias.")
PENDING = "pending:"  # a decision recorded, its alias move not yet
REASON_OPTION = typer.Option(..., "--reason", help="Why (kept in the registry and the record).")


def command(params_path: Path = PARAMS_OPTION, challenger: str | None = CHALLENGER_OPTION,
            dry_run: bool = DRY_RUN_OPTION) -> None:
    """Decide whether the challenger replaces the champion, and apply it."""
    import mlflow

    from skinrisk.promotion import registry

    params = load_params(params_path)
    layout = StateLayout.from_env()
    # Clone mode: the test sets of the version the DAG pinned (the one evaluated), pulled.
    checkout_version(layout, EVALUATION_INPUTS)
    connect(layout)
    client = mlflow.MlflowClient()
    with named_lock(layout, "promote") as lock:
        # A tampered trail: no promotion until it is explained.
        require_intact(layout, ledger_archive(layout))
        version = current_version(layout)
        candidate = challenger or registry.challenger_version(client)
        if candidate is None:
            raise SkinriskError(f"no `{CHALLENGER}` version of {MODEL_NAME}: run `skinrisk "
                                "train` and `skinrisk evaluate` first")
        champion = registry.alias_version(client, CHAMPION)
        # A decision is recorded before its alias move; a run killed between the two left a
        # decision that says "pending". The rerun finishes it instead of deciding again.
        pending = _unapplied(layout, candidate, version.tag)
        if champion == candidate:
            if pending is not None:
                _moved(layout, pending, pending["champion_before"], candidate,
                       f"champion {pending['champion_before'] or 'none'} -> {candidate} "
                       "(moved by an interrupted run; recorded now)")
            out.print(f"promote: version {candidate} is already the champion; nothing to do")
            return
        if pending is not None and pending["champion_before"] == champion and not dry_run:
            lock.confirm()
            applied = registry.apply_promotion(client, candidate, champion,
                                               pending["decision_id"])
            _moved(layout, pending, champion, candidate, applied)
            out.print(f"promote: applied decision {pending['decision_id']}, which an "
                      f"interrupted run recorded but did not apply: {applied}")
            return
        with working("promote: predicting both models, paired bootstrap of every criterion"):
            rec = _decide(params, layout, client, version, candidate, champion)
        decision_id = rec["decision_id"]
        registry.tag_verdict(client, candidate, rec["verdict"], decision_id)
        moving = rec["verdict"] == "promote" and not dry_run
        rec["applied"] = (f"{PENDING} champion {champion or 'none'} -> {candidate}" if moving
                          else "dry run: no alias moved" if rec["verdict"] == "promote"
                          else "nothing moved (rejected)")
        paths = _write(layout, rec)
        _log(rec, paths)
        ledger.record(layout, Event.GATE_DECISION, {
            "decision_id": decision_id, "verdict": rec["verdict"], "applied": rec["applied"],
            "challenger": rec["challenger"], "champion": rec["champion"], "data": rec["data"],
            "decision_number": rec["decision_number"], "alpha_spent": rec["alpha_spent"],
            "record_sha256": hashlib.sha256(paths[0].read_bytes()).hexdigest()})
        if moving:
            lock.confirm()
            rec["applied"] = registry.apply_promotion(client, candidate, champion, decision_id)
            _moved(layout, {"decision_id": decision_id}, champion, candidate, rec["applied"])
    out.print(f"promote: [bold]{rec['verdict'].upper()}[/] {MODEL_NAME} version {candidate} "
              f"(champion before: {champion or 'none'}); {rec['applied']}")
    for reason in rec["reasons"]:
        out.print(f"  - {reason}")
    out.print(f"decision record: {paths[1]}")


def _unapplied(layout: StateLayout, candidate: str, data_version: str) -> dict[str, Any] | None:
    """The promote decision a killed run recorded but did not see through — only while it is
    the last word on the registry (no later decision, alias move or rollback: an operator's
    rollback must not be undone by a retry) and judged the data version there is now."""
    pending = None
    for entry in ledger.read(layout):
        event, data = entry["event"], entry["data"]
        if event not in (Event.GATE_DECISION, Event.ALIAS_MOVED, Event.ROLLBACK):
            continue
        pending = None
        if (event == Event.GATE_DECISION and str(data.get("applied", "")).startswith(PENDING)
                and str((data.get("challenger") or {}).get("version")) == candidate
                and (data.get("data") or {}).get("version") == data_version):
            pending = {"decision_id": data["decision_id"],
                       "champion_before": (data.get("champion") or {}).get("version")}
    return pending


def _moved(layout: StateLayout, decision: dict[str, Any], before: str | None, after: str,
           applied: str) -> None:
    ledger.record(layout, Event.ALIAS_MOVED, {
        "decision_id": decision["decision_id"], "model": MODEL_NAME, "alias": CHAMPION,
        "from": before, "to": after, "previous_champion": before, "applied": applied})


def _decide(params, layout: StateLayout, client, version: DataVersion, candidate: str,
            champion: str | None) -> dict[str, Any]:
    import mlflow

    from skinrisk.evaluation.predict import predict_version
    from skinrisk.promotion.decide import decide
    from skinrisk.promotion.record import record
    from skinrisk.promotion.spending import Look, earlier_decisions, looks

    def predictions(number: str):
        model = mlflow.keras.load_model(f"models:/{MODEL_NAME}/{number}")
        return predict_version(model, layout.workspace, int(model.input_shape[1]))

    challenger_sets = predictions(candidate)
    champion_sets = predictions(champion) if champion else None
    sizes = {k: len(v) for k, v in challenger_sets.items()}
    # Alpha is spent over the comparisons already made on these test sets (the ledger's).
    earlier = earlier_decisions(looks(ledger.read(layout)),
                                Look(candidate, champion or "", version.tag, sizes),
                                params.promote.spending) if champion else 0
    decision = decide(challenger_sets, champion_sets, params.promote, earlier)
    now = dt.datetime.now(dt.UTC)
    context = {
        "decision_id": f"{now:%Y%m%dT%H%M%SZ}-v{candidate}",
        "decided_at": now.isoformat(timespec="seconds"),
        "triggered_by": ", ".join(f"{k}={v}" for k, v in context_tags().items()),
        "challenger": _describe(client, candidate),
        "champion": _describe(client, champion) if champion else None,
        "data": {"version": version.tag, "commit": version.commit,
                 "shards_md5": version.shards_md5, "splits_md5": version.splits_md5,
                 "test_set_sizes": sizes},
        "params": params.promote.model_dump(mode="json", by_alias=True),
    }
    return record(decision, context)


def _describe(client, number: str) -> dict[str, Any]:
    from skinrisk.promotion.registry import model_version

    mv = model_version(client, number)
    return {"name": MODEL_NAME, "version": str(number), "run_id": mv.run_id,
            "data_version": (mv.tags or {}).get("data.version")}


def _write(layout: StateLayout, rec: dict[str, Any]) -> tuple[Path, Path]:
    from skinrisk.promotion.record import markdown

    base = layout.decisions / rec["decision_id"]
    write_json(base.with_suffix(".json"), rec)
    atomic_write(base.with_suffix(".md"), markdown(rec).encode())
    for path in (base.with_suffix(".json"), base.with_suffix(".md")):
        kept.keep(layout, path)
    return base.with_suffix(".json"), base.with_suffix(".md")


def _log(rec: dict[str, Any], paths: tuple[Path, Path]) -> None:
    import mlflow

    run_id = rec["challenger"]["run_id"]
    client = mlflow.MlflowClient()
    for path in paths:
        client.log_artifact(run_id, str(path), "promotion")
    client.set_tag(run_id, "gate.verdict", rec["verdict"])
    client.set_tag(run_id, "gate.decision", rec["decision_id"])
    client.log_metric(run_id, "gate_promoted", 1.0 if rec["verdict"] == "promote" else 0.0)


def rollback_command(reason: str = REASON_OPTION) -> None:
    """Move `champion` back to `previous-champion`, recording who and why."""
    import mlflow

    from skinrisk.promotion import registry

    layout = StateLayout.from_env()
    connect(layout)
    by = ", ".join(f"{k}={v}" for k, v in context_tags().items())
    with named_lock(layout, "promote") as lock:
        require_intact(layout, ledger_archive(layout))
        lock.confirm()
        rolled_back, restored = registry.rollback(mlflow.MlflowClient(), reason, by)
        now = dt.datetime.now(dt.UTC)
        rec = {"decision_id": f"{now:%Y%m%dT%H%M%SZ}-rollback", "kind": "rollback",
               "decided_at": now.isoformat(timespec="seconds"), "triggered_by": by,
               "reason": reason, "rolled_back": rolled_back, "restored": restored}
        write_json(layout.decisions / f"{rec['decision_id']}.json", rec)
        ledger.record(layout, Event.ROLLBACK, rec)  # first: a retried promote reads the ledger
        kept.keep(layout, layout.decisions / f"{rec['decision_id']}.json")
    out.print(f"rollback: champion {rolled_back} -> {restored} ({reason})")


def main(argv: list[str] | None = None) -> int:
    return run_app(command, argv, prog_name="skinrisk promote")


if __name__ == "__main__":
    raise SystemExit(main())

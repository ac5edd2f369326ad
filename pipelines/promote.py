"""`skinrisk promote` and `skinrisk rollback`: the gate, decided then applied.

promote: under the promotion lock, evaluate the challenger AND the current champion on the
current held-out and cross-ethnic sets, decide (skinrisk.promotion.gate), write the decision
record, then move `champion` by compare-and-set. A rejection is a normal outcome (exit 0); an
evaluation error or a changed champion moves nothing (exit 1). A decision is recorded before
its alias move; a rerun after a kill between the two finishes it (skinrisk.promotion.pending).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import typer

from pipelines.common import PARAMS_OPTION, load_params, out, run_app, working
from skinrisk import ledger, tracking
from skinrisk.audit.archive import ledger_archive, require_intact
from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout
from skinrisk.ledger import Event
from skinrisk.promotion import gate, kept, pending, registry
from skinrisk.records.locks import named_lock
from skinrisk.tracking import CHALLENGER, MODEL_NAME
from skinrisk.versioning.checkout import EVALUATION_INPUTS, checkout_version
from skinrisk.versioning.current import current_version

CHALLENGER_OPTION = typer.Option(None, "--challenger", help="Model version to judge; default: "
                                 "the version with the `challenger` alias.")
DRY_RUN_OPTION = typer.Option(False, "--dry-run", help="Decide and record; move no alias.")
REASON_OPTION = typer.Option(..., "--reason", help="Why (kept in the registry and the record).")


def command(params_path: Path = PARAMS_OPTION, challenger: str | None = CHALLENGER_OPTION,
            dry_run: bool = DRY_RUN_OPTION) -> None:
    """Decide whether the challenger replaces the champion, and apply it."""
    params = load_params(params_path)
    layout = StateLayout.from_env()
    # Clone mode: the test sets of the version the DAG pinned (the one evaluated), pulled.
    checkout_version(layout, EVALUATION_INPUTS)
    client = tracking.client(layout)
    with named_lock(layout, "promote") as lock:
        # A tampered trail: no promotion until it is explained.
        require_intact(layout, ledger_archive(layout))
        version = current_version(layout)
        candidate = challenger or registry.challenger_version(client)
        if candidate is None:
            raise SkinriskError(f"no `{CHALLENGER}` version of {MODEL_NAME}: run `skinrisk "
                                "train` and `skinrisk evaluate` first")
        champion = registry.champion_version(client)
        unapplied = pending.unapplied(ledger.read(layout), candidate, version.tag)
        if champion == candidate:
            if unapplied is not None:  # moved by the killed run, which did not record it
                pending.record_move(layout, unapplied.decision_id, unapplied.champion_before,
                                    candidate, f"champion {unapplied.champion_before or 'none'} "
                                    f"-> {candidate} (moved by an interrupted run; recorded now)")
            out.print(f"promote: version {candidate} is already the champion; nothing to do")
            return
        if unapplied is not None and unapplied.champion_before == champion and not dry_run:
            lock.confirm()
            applied = registry.apply_promotion(client, candidate, champion,
                                               unapplied.decision_id)
            pending.record_move(layout, unapplied.decision_id, champion, candidate, applied)
            out.print(f"promote: applied decision {unapplied.decision_id}, which an "
                      f"interrupted run recorded but did not apply: {applied}")
            return
        with working("promote: predicting both models, paired bootstrap of every criterion"):
            rec = gate.judge(params, layout, client, version, candidate, champion)
        registry.tag_verdict(client, candidate, rec["verdict"], rec["decision_id"])
        moving = rec["verdict"] == "promote" and not dry_run
        rec["applied"] = (pending.pending_note(champion, candidate) if moving
                          else "dry run: no alias moved" if rec["verdict"] == "promote"
                          else "nothing moved (rejected)")
        paths = gate.write_record(layout, rec)
        registry.log_decision(client, rec, paths)
        ledger.record(layout, Event.GATE_DECISION, {
            **{k: rec[k] for k in ("decision_id", "verdict", "applied", "challenger",
                                   "champion", "data", "decision_number", "alpha_spent")},
            "record_sha256": hashlib.sha256(paths[0].read_bytes()).hexdigest()})
        if moving:
            lock.confirm()
            rec["applied"] = registry.apply_promotion(client, candidate, champion,
                                                      rec["decision_id"])
            pending.record_move(layout, rec["decision_id"], champion, candidate,
                                rec["applied"])
    out.print(f"promote: [bold]{rec['verdict'].upper()}[/] {MODEL_NAME} version {candidate} "
              f"(champion before: {champion or 'none'}); {rec['applied']}")
    for reason in rec["reasons"]:
        out.print(f"  - {reason}")
    out.print(f"decision record: {paths[1]}")


def rollback_command(reason: str = REASON_OPTION) -> None:
    """Move `champion` back to `previous-champion`, recording who and why."""
    layout = StateLayout.from_env()
    client = tracking.client(layout)
    by = gate.triggered_by()
    with named_lock(layout, "promote") as lock:
        require_intact(layout, ledger_archive(layout))
        lock.confirm()
        rolled_back, restored = registry.rollback(client, reason, by)
        rec = gate.write_rollback(layout, reason, by, rolled_back, restored)
        ledger.record(layout, Event.ROLLBACK, rec)  # first: a retried promote reads the ledger
        kept.keep(layout, layout.decisions / f"{rec['decision_id']}.json")
    out.print(f"rollback: champion {rolled_back} -> {restored} ({reason})")


def main(argv: list[str] | None = None) -> int:
    return run_app(command, argv, prog_name="skinrisk promote")


if __name__ == "__main__":
    raise SystemExit(main())

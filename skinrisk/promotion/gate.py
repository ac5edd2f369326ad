"""One run of the gate: both models predicted on the current test sets, decided, recorded.

The statistics are skinrisk.promotion.decide (pure); this gathers what it needs (predictions
from the registry, the alpha already spent from the ledger) and writes what it returns (the
decision record as JSON and Markdown, kept where every worker finds it).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from skinrisk import ledger
from skinrisk.config import Params
from skinrisk.layout import StateLayout
from skinrisk.localfs import atomic_write, write_json
from skinrisk.promotion import kept, registry
from skinrisk.tracking import context_tags
from skinrisk.versioning.current import DataVersion


def judge(params: Params, layout: StateLayout, client: Any, version: DataVersion,
          candidate: str, champion: str | None) -> dict[str, Any]:
    """The decision record of ``candidate`` against ``champion`` (None: there is none yet) on
    the test sets of ``version`` in the workspace."""
    from skinrisk.evaluation.predict import predict_version
    from skinrisk.promotion.decide import decide
    from skinrisk.promotion.record import record
    from skinrisk.promotion.spending import Look, earlier_decisions, looks

    def predictions(number: str):
        model = registry.load_model(number)
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
        "triggered_by": triggered_by(),
        "challenger": registry.describe(client, candidate),
        "champion": registry.describe(client, champion) if champion else None,
        "data": {"version": version.tag, "commit": version.commit,
                 "shards_md5": version.shards_md5, "splits_md5": version.splits_md5,
                 "test_set_sizes": sizes},
        "params": params.promote.model_dump(mode="json", by_alias=True),
    }
    return record(decision, context)


def triggered_by() -> str:
    """Who ran this (Airflow's dag, run, task and try, else the user), for a record."""
    return ", ".join(f"{k}={v}" for k, v in context_tags().items())


def write_record(layout: StateLayout, rec: dict[str, Any]) -> tuple[Path, Path]:
    """The decision record as <decision id>.json and .md under decisions/, both kept."""
    from skinrisk.promotion.record import markdown

    base = layout.decisions / rec["decision_id"]
    json_path, md_path = base.with_suffix(".json"), base.with_suffix(".md")
    write_json(json_path, rec)
    atomic_write(md_path, markdown(rec).encode())
    for path in (json_path, md_path):
        kept.keep(layout, path)
    return json_path, md_path


def write_rollback(layout: StateLayout, reason: str, by: str, rolled_back: str,
                   restored: str) -> dict[str, Any]:
    """The rollback's record under decisions/ (kept by the caller after its ledger event)."""
    now = dt.datetime.now(dt.UTC)
    rec = {"decision_id": f"{now:%Y%m%dT%H%M%SZ}-rollback", "kind": "rollback",
           "decided_at": now.isoformat(timespec="seconds"), "triggered_by": by,
           "reason": reason, "rolled_back": rolled_back, "restored": restored}
    write_json(layout.decisions / f"{rec['decision_id']}.json", rec)
    return rec

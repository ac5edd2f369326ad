"""What must hold after any fault, whatever the case: every input file accounted for, the
registry consistent, the ledger intact."""

from __future__ import annotations

import json
from pathlib import Path

from skinrisk.layout import StateLayout
from skinrisk.ledger import ledger_path, verify

NOT_IMAGES = {"manifest.csv", "_READY"}


def landing_files(batch: Path) -> int:
    return sum(1 for p in batch.rglob("*") if p.is_file() and p.name not in NOT_IMAGES)


def assert_reconciled(home: Path, landing: dict[str, int] | None = None) -> None:
    """Each committed batch: files in = accepted + quarantined; with `landing` (batch id ->
    image files sent), each sent batch is committed with exactly that many files in."""
    layout = StateLayout(home)
    reports = {p.parent.name: json.loads(p.read_text())
               for p in layout.raw.glob("*/report.json")}
    for batch, report in reports.items():
        assert report["files_in"] == report["accepted"] + report["quarantined_files"], batch
    for batch, sent in (landing or {}).items():
        assert batch in reports, f"batch {batch} was sent but never committed"
        assert reports[batch]["files_in"] == sent, batch


def assert_ledger_intact(home: Path) -> None:
    verdict = verify(ledger_path(StateLayout(home)))
    assert verdict.ok, f"ledger entry {verdict.first_bad}: {verdict.why}"


def assert_registry_consistent(home: Path) -> None:
    """At most one champion, promoted by the gate (or the first model); every version READY
    (none half-registered); previous-champion never the champion."""
    import mlflow

    db = StateLayout(home).mlflow / "mlflow.db"
    if not db.is_file():
        return
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{db}", registry_uri=f"sqlite:///{db}")
    versions = client.search_model_versions("name='skinrisk-xception'")
    assert all(v.status == "READY" for v in versions), [(v.version, v.status) for v in versions]
    aliases: dict[str, list[str]] = {}
    for v in versions:
        for alias in client.get_model_version(v.name, v.version).aliases:
            aliases.setdefault(alias, []).append(v.version)
    assert all(len(holders) == 1 for holders in aliases.values()), aliases
    if "champion" in aliases:
        champion = client.get_model_version("skinrisk-xception", aliases["champion"][0])
        assert champion.tags.get("gate.verdict") == "promote", champion.tags
        assert aliases.get("previous-champion") != aliases["champion"]


def assert_invariants(home: Path, landing: dict[str, int] | None = None) -> None:
    assert_reconciled(home, landing)
    assert_ledger_intact(home)
    assert_registry_consistent(home)

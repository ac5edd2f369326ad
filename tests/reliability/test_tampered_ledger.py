"""Case 12: a ledger line edited — `audit verify` fails naming it, and promotion refuses to run
(nothing decided, nothing moved) until the trail is explained."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.crash import run_skinrisk
from tests.helpers.invariants import assert_registry_consistent
from tests.reliability.conftest import copy_stage

pytestmark = [pytest.mark.ml, pytest.mark.slow]


def test_an_edited_ledger_line_stops_verification_and_promotion(
        stages: dict[str, Path], tmp_path: Path) -> None:
    home = copy_stage(stages, "evaluated", tmp_path / "state")
    ledger = home / "ledger" / "ledger.jsonl"
    lines = ledger.read_text().splitlines()
    quality = next(i for i, line in enumerate(lines) if '"event": "quality"' in line)
    entry = json.loads(lines[quality])
    entry["data"]["quarantined"] = 0  # someone hides the quarantined photos
    lines[quality] = json.dumps(entry, sort_keys=True)
    ledger.write_text("\n".join(lines) + "\n")

    verify = run_skinrisk(home, ["audit", "verify"])
    assert verify.returncode == 1
    assert f"entry {quality + 1} of {len(lines)}" in verify.stderr.replace("\n", " ")
    decisions = sorted((home / "decisions").glob("*")) if (home / "decisions").exists() else []
    promote = run_skinrisk(home, ["promote", "--params", str(stages["params"])])
    assert promote.returncode == 1
    err = promote.stderr.replace("\n", " ")
    assert f"fails verification at entry {quality + 1}" in err and "Nothing was done" in err
    after = sorted((home / "decisions").glob("*")) if (home / "decisions").exists() else []
    assert after == decisions  # no decision made
    assert_registry_consistent(home)
    import mlflow

    db = f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
    version = mlflow.MlflowClient(tracking_uri=db, registry_uri=db).get_model_version(
        "skinrisk-xception", "1")
    assert "champion" not in version.aliases and "gate.verdict" not in version.tags

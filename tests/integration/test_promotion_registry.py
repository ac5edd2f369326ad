"""The registry side of promotion against a real MLflow store (SQLite): compare-and-set,
a race of two promotions, rollback and its record."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from pipelines.cli import main
from tests.conftest import REPO, VENVS

pytestmark = pytest.mark.ml


@pytest.fixture()
def registry(state_home: Path, monkeypatch: pytest.MonkeyPatch):
    """Three registered versions of a tiny Keras model in a fresh SQLite store."""
    import keras
    import mlflow

    from skinrisk.layout import StateLayout
    from skinrisk.tracking import MODEL_NAME, connect

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    experiment = connect(StateLayout.from_env())
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    for _ in range(3):
        with mlflow.start_run(experiment_id=experiment):
            # requirements given: inferring them loads the model in a subprocess (slow)
            info = mlflow.keras.log_model(model, name="model", pip_requirements=["keras"])
        mlflow.register_model(info.model_uri, MODEL_NAME)
    return mlflow.MlflowClient()


def test_compare_and_set_refuses_a_champion_that_moved(registry) -> None:
    from skinrisk.promotion.registry import AliasConflict, alias_version, apply_promotion

    assert apply_promotion(registry, "1", None, "d1") == "champion none -> 1"
    with pytest.raises(AliasConflict, match="expected version none, now 1"):
        apply_promotion(registry, "2", None, "d2")  # decided when there was no champion
    assert alias_version(registry, "champion") == "1"
    apply_promotion(registry, "2", "1", "d3")
    assert alias_version(registry, "champion") == "2"
    assert alias_version(registry, "previous-champion") == "1"
    assert registry.get_model_version("skinrisk-xception", "1").tags["gate.replaced_by"] == "2"


def test_two_promotions_at_once_move_the_alias_exactly_once(registry, state_home: Path
                                                             ) -> None:
    script = textwrap.dedent("""
        import sys, time
        import mlflow
        from skinrisk.layout import StateLayout
        from skinrisk.localfs import exclusive_lock
        from skinrisk.promotion.registry import AliasConflict, alias_version, apply_promotion
        from skinrisk.tracking import connect
        layout = StateLayout.from_env()
        connect(layout)
        client = mlflow.MlflowClient()
        expected = alias_version(client, "champion")  # both decide against "no champion"
        barrier = layout.home / "barrier"
        barrier.mkdir(exist_ok=True)
        (barrier / sys.argv[1]).touch()
        while len(list(barrier.iterdir())) < 2:  # both have decided before either applies
            time.sleep(0.05)
        with exclusive_lock(layout.locks / "promote.lock"):
            try:
                print(apply_promotion(client, sys.argv[1], expected, "race"))
            except AliasConflict as exc:
                print("CONFLICT", exc)
    """)
    env = {"SKINRISK_HOME": str(state_home), "PATH": "/usr/bin:/bin"}
    workers = [subprocess.Popen([str(VENVS / "ml" / "bin" / "python"), "-c", script, v],
                                cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
               for v in ("2", "3")]
    outputs = [w.communicate(timeout=120)[0] for w in workers]
    moved = [o for o in outputs if o.startswith("champion none ->")]
    refused = [o for o in outputs if o.startswith("CONFLICT")]
    assert len(moved) == 1 and len(refused) == 1, outputs
    from skinrisk.promotion.registry import alias_version

    winner = moved[0].split("-> ")[1].strip()
    assert alias_version(registry, "champion") == winner
    assert alias_version(registry, "previous-champion") is None


def test_rollback_round_trip_is_recorded(registry, state_home: Path) -> None:
    from skinrisk.promotion.registry import alias_version, apply_promotion

    apply_promotion(registry, "1", None, "d1")
    apply_promotion(registry, "2", "1", "d2")
    assert main(["rollback", "--reason", "dangerous-grade recall dropped in clinic"]) == 0
    assert alias_version(registry, "champion") == "1"
    assert alias_version(registry, "previous-champion") is None
    tags = registry.get_model_version("skinrisk-xception", "2").tags
    assert tags["gate.rollback_reason"] == "dangerous-grade recall dropped in clinic"
    records = [json.loads(p.read_text()) for p in (state_home / "decisions").glob("*.json")]
    assert [r["kind"] for r in records] == ["rollback"]
    assert records[0]["rolled_back"] == "2" and records[0]["restored"] == "1"
    # A second rollback has nowhere to go: it says so and moves nothing.
    assert main(["rollback", "--reason", "again"]) == 1
    assert alias_version(registry, "champion") == "1"
    # Promotion works again after a rollback.
    apply_promotion(registry, "3", "1", "d3")
    assert alias_version(registry, "previous-champion") == "1"

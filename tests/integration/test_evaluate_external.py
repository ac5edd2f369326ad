"""External evaluation for real: a tiny Xception trained and registered by the stages (MLflow on
SQLite, DVC version), then graded on a batch ingested after it and on the batch it trained on.

One module fixture runs the chain once (about a minute on CPU): batch b1 -> data-v1 -> train ->
evaluate (version 1, also `champion`); batch b2 ingested and judged by quality afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from pipelines.cli import main
from tests.conftest import REPO

pytestmark = [pytest.mark.ml, pytest.mark.slow]

TINY = {  # the smallest chain that trains: few photos, one epoch, Xception's smallest input
    "extends": str(REPO / "params-small.yaml"),
    "synth": {"images": 60, "difficulty": 0.0, "sources": ["hospital-a"], "defect_rates": {},
              "tumor_types": ["junctional_nevus", "basal_cell_carcinoma", "malignant_melanoma",
                              "hemangioma"]},
    "pack": {"image_size": 71},
    "train": {"epochs": 1, "image_size": 71, "max_images": 30, "batch_size": 8},
    "evaluate": {"bootstrap_resamples": 100},
}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(SKINRISK_HOME, params): version 1 trained on b1 and `champion`; b2 ingested after."""
    import mlflow

    from skinrisk.tracking import CHAMPION, MODEL_NAME

    root = tmp_path_factory.mktemp("external")
    params = root / "params.yaml"
    params.write_text(yaml.safe_dump(TINY))
    args = ["--params", str(params)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SKINRISK_HOME", str(root / "state"))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        for stage in (["synth", "--batch-id", "b1", "--seed", "1"], ["ingest"], ["quality"],
                      ["validate"], ["split"], ["pack"]):
            assert main([*stage, *args]) == 0, stage
        assert main(["version"]) == 0
        assert main(["train", *args]) == 0
        assert main(["evaluate", *args]) == 0
        mlflow.MlflowClient().set_registered_model_alias(MODEL_NAME, CHAMPION, "1")
        for stage in (["synth", "--batch-id", "b2", "--seed", "2"], ["ingest"], ["quality"]):
            assert main([*stage, *args]) == 0, stage
        yield root / "state", params


@pytest.fixture()
def in_home(home: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("SKINRISK_HOME", str(home[0]))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return home


def registry() -> tuple:
    """Every version with its aliases and tags, and the model's alias map."""
    import mlflow

    from skinrisk.tracking import MODEL_NAME

    client = mlflow.MlflowClient()
    versions = sorted(
        (v.version, v.run_id, tuple(sorted(client.get_model_version(MODEL_NAME, v.version)
                                           .aliases or [])), tuple(sorted(v.tags.items())))
        for v in client.search_model_versions(f"name='{MODEL_NAME}'"))
    return tuple(versions), tuple(sorted(client.get_registered_model(MODEL_NAME).aliases.items()))


def ledger_events(home: Path, event: str) -> list[dict]:
    lines = (home / "ledger" / "ledger.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["event"] == event]


def curated_ids(home: Path, batch: str) -> set[str]:
    from skinrisk.storage.tables import read_rows

    rows = read_rows(home / "workspace" / "data" / "curated" / "manifest.parquet")
    return {r["image_id"] for r in rows if r["batch_id"] == batch}


def test_a_registered_model_is_graded_on_a_new_batch_and_nothing_in_the_registry_moves(
        in_home: tuple[Path, Path]) -> None:
    import mlflow

    home, params = in_home
    before = registry()
    assert main(["evaluate", "--model", "champion", "--batch", "b2", "--params",
                 str(params)]) == 0
    assert registry() == before  # no version registered, no alias moved, no tag changed

    [event] = ledger_events(home, "external_evaluation")
    data = event["data"]
    assert data["model"] == "skinrisk-xception/1" and data["batches"] == ["b2"]
    assert data["images"] == len(curated_ids(home, "b2"))
    folder = next((home / "evaluations").glob("skinrisk-xception-1-*"))
    report = json.loads((folder / "evaluate.json").read_text())
    assert report["kind"] == "external" and report["images_sha256"] == data["images_sha256"]
    figures = report["sets"]["external"]
    assert figures["n"] + report["ood"]["n"] == data["images"]
    assert figures["macro_auc"] is not None and figures["macro_auc_ci"] is not None
    # A grade the quality filter left without photos in this small batch is null with a reason.
    graded = [e for e in figures["grades"].values() if e["auc"] is not None]
    assert len(graded) == figures["macro_auc_grades"] >= 2
    for entry in graded:
        assert {"auc_ci", "sensitivity", "specificity", "youden_threshold"} <= set(entry)
    assert {"skin_type", "source", "body_site"} == set(figures["slices"])
    assert report["ood"]["n"] > 0 and report["ood"]["accuracy"] is not None  # hemangioma
    assert (folder / "plots" / "external_roc.png").stat().st_size > 5000
    assert data["figures"]["macro_auc"] == figures["macro_auc"]

    run = mlflow.MlflowClient().get_run(data["run_id"])
    tags = run.data.tags
    assert tags["evaluation.kind"] == "external" and tags["evaluation.model_version"] == "1"
    assert tags["evaluation.batches"] == "b2"
    assert tags["evaluation.images_sha256"] == data["images_sha256"]
    assert run.data.metrics["external_macro_auc"] == pytest.approx(figures["macro_auc"])
    assert "ood_accuracy" in run.data.metrics
    assert data["run_id"] != tags["evaluation.model_run_id"]  # its own run, not the training's

    assert main(["audit", "model", "1"]) == 0  # every cross-check holds, this one's too
    audit = home / "audits" / "model-skinrisk-xception-1"
    trace = json.loads((audit / "audit.json").read_text())
    [listed] = trace["external_evaluations"]
    assert listed["run_id"] == data["run_id"] and listed["batches"] == ["b2"]
    assert any(c["what"].startswith("external evaluation") and c["ok"] for c in trace["checks"])
    assert data["run_id"] in (audit / "audit.md").read_text()


def test_a_batch_the_model_trained_on_is_refused_naming_the_overlap(
        in_home: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    from skinrisk.audit.model import RunArtifacts
    from skinrisk.tracking import IMAGES_ARTIFACT

    home, params = in_home
    version_run = json.loads((home / "workspace" / "models" / "train.json").read_text())
    lists = RunArtifacts(version_run["run_id"]).json(IMAGES_ARTIFACT)
    overlap = curated_ids(home, "b1") & (set(lists["fit"]) | set(lists["validation"]))
    assert overlap
    before, events = registry(), len(ledger_events(home, "external_evaluation"))
    capsys.readouterr()
    assert main(["evaluate", "--model", "skinrisk-xception/1", "--batch", "b2", "--batch", "b1",
                 "--params", str(params)]) == 1
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1
    assert f"refused: {len(overlap)} of the" in message and f"b1 ({len(overlap)})" in message
    assert "b2" not in message.partition("in batch(es)")[2]
    assert registry() == before
    assert len(ledger_events(home, "external_evaluation")) == events


@pytest.mark.parametrize(("args", "words"), [
    (["--model", "1", "--batch", "b9"], "b9 not in the raw zone"),
    (["--model", "7", "--batch", "b2"], "no model version '7' in the registry"),
    (["--model", "nightly", "--batch", "b2"], "no model version 'nightly'"),
])
def test_an_unknown_batch_or_model_is_a_one_line_error(
        in_home: tuple[Path, Path], capsys: pytest.CaptureFixture[str], args: list[str],
        words: str) -> None:
    _, params = in_home
    capsys.readouterr()
    assert main(["evaluate", *args, "--params", str(params)]) == 1
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1 and words in message, message

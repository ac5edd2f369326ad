"""Train and evaluate for real: Xception on CPU at a tiny size, MLflow on SQLite, DVC versions.

One easy synthetic cohort is versioned once per module; the tests then train on it, read the
MLflow run back from the store, gate, audit and reproduce. A training killed mid-run and
resumed to the same weights: tests/integration/test_checkpoint_store.py (with a wiped disk too).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipelines.cli import main
from tests.conftest import REPO

pytestmark = [pytest.mark.ml, pytest.mark.slow]

EASY = {  # types that differ plainly in look, two sources (hospital-b: cross-ethnic), OOD too
    "extends": str(REPO / "params-small.yaml"),
    "synth": {"difficulty": 0.0, "images": 480, "sources": ["hospital-a", "hospital-b"],
              "defect_rates": {}, "tumor_types": None},
    # More steps than the demo profile: the split is drawn on random surrogate ids, so each run
    # trains on a different half of the cohort. Held-out macro AUC over four draws: 6 epochs
    # 0.58, 0.79, 0.89, 0.95 (0.58 fails the 0.6 asserted below); 10 epochs on three of them
    # 0.95, 0.98, 1.0 (the best epoch is kept, so more epochs never lower the validation AUC it
    # is chosen on).
    "train": {"epochs": 10, "learning_rate": 0.001},
    # The macro floor stays; per-grade AUC on ~40 held-out patients of this 6-epoch CPU model
    # swings by +-0.15 with the draw (low-risk at 0.40 beside a passing macro has been seen), and
    # the per-grade floors are the gate's unit tests' business, not this wiring test's.
    "promote": {"floors": {"macro": 0.55, "low-risk": 0.0, "high-risk": 0.0, "dangerous": 0.0}},
}


def easy_params(folder: Path, **train: object) -> Path:
    from skinrisk.taxonomy import OOD_TYPES, TUMOR_TYPES

    data = json.loads(json.dumps(EASY))
    data["synth"]["tumor_types"] = [t.key for t in TUMOR_TYPES] + [t.key for t in OOD_TYPES]
    data["train"].update(train)
    path = folder / f"params-{len(list(folder.glob('params-*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def versioned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(SKINRISK_HOME, params file) with one dataset version of the easy cohort."""
    root = tmp_path_factory.mktemp("train")
    home = root / "state"
    params = easy_params(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SKINRISK_HOME", str(home))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        args = ["--params", str(params)]
        assert main(["synth", "--out", str(root / "landing" / "b1"), "--truth",
                     str(root / "b1.csv"), *args]) == 0
        for stage in (["ingest", "--landing", str(root / "landing")], ["quality"],
                      ["validate"], ["split"], ["pack"]):
            assert main([*stage, *args]) == 0, stage
        assert main(["version"]) == 0
        yield home, params


@pytest.fixture(scope="module")
def trained(versioned: tuple[Path, Path]) -> dict:
    """Train and evaluate once: the run record of registered version 1 (the challenger)."""
    home, params = versioned
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SKINRISK_HOME", str(home))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        assert main(["train", "--params", str(params)]) == 0
        assert main(["evaluate", "--params", str(params)]) == 0
    return json.loads((home / "workspace" / "models" / "train.json").read_text())


@pytest.fixture()
def in_home(versioned: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("SKINRISK_HOME", str(versioned[0]))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return versioned


def test_xception_learns_the_easy_cohort_and_the_run_holds_everything(
        in_home: tuple[Path, Path], trained: dict) -> None:
    import mlflow

    home, params = in_home
    report = json.loads((home / "workspace" / "metrics" / "evaluate.json").read_text())
    heldout = report["sets"]["heldout"]
    assert heldout["n"] > 30 and heldout["macro_auc"] > 0.6, heldout["macro_auc"]
    assert report["sets"]["cross_ethnic"]["n"] > 30
    assert report["ood"]["n"] > 0 and report["ood"]["accuracy"] is not None
    for name in ("heldout_roc.png", "heldout_confusion.png", "cross_ethnic_roc.png"):
        assert (home / "workspace" / "metrics" / "plots" / name).stat().st_size > 5000

    record = trained
    mlflow.set_tracking_uri(f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")
    client = mlflow.MlflowClient()
    run = client.get_run(record["run_id"])
    # params: flattened params.yaml; tags: code, data version, DVC hashes, who ran it
    assert run.data.params["train.learning_rate"] == "0.001"
    assert run.data.params["split.test_fraction"] == "0.25"
    assert run.data.tags["data.version"] == "data-v1"
    assert run.data.tags["dvc.data/shards"] == record["shards_md5"]
    assert run.data.tags["code.commit"] and run.data.tags["triggered_by"].startswith("user:")
    # metrics: per epoch, final, <set>_<metric>[_<grade or slice>], system metrics
    history = client.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == list(range(EASY["train"]["epochs"]))
    for name in ("heldout_macro_auc", "heldout_auc_dangerous", "cross_ethnic_macro_auc",
                 "ood_accuracy", "heldout_sensitivity_high-risk", "best_epoch"):
        assert name in run.data.metrics, name
    assert any(k.startswith("cross_ethnic_macro_auc_skin_type_") for k in run.data.metrics)
    assert any(k.startswith("system/cpu_utilization") for k in run.data.metrics)
    # dataset inputs whose digest is the DVC hash of the shards
    inputs = {d.dataset.name: d for d in run.inputs.dataset_inputs}
    assert {"data-v1/fit", "data-v1/validation", "data-v1/heldout"} <= set(inputs)
    assert all(d.dataset.digest == record["shards_md5"][:36] for d in inputs.values())
    assert json.loads(inputs["data-v1/fit"].dataset.source)["rev"] == "data-v1"
    # artifacts: figures, evaluation JSON, the validation report
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation")}
    assert {"evaluation/evaluate.json", "evaluation/plots"} <= artifacts
    assert client.list_artifacts(run.info.run_id, "data_validation")
    # the model: a registered version with signature and input example, alias challenger
    version = client.get_model_version_by_alias("skinrisk-xception", "challenger")
    assert version.run_id == run.info.run_id and version.tags["data.version"] == "data-v1"
    info = mlflow.models.get_model_info("models:/skinrisk-xception@challenger")
    assert info.signature is not None and info.saved_input_example_info is not None
    model = mlflow.keras.load_model("models:/skinrisk-xception@challenger")
    assert model.output_shape == (None, 3)

    # Evaluating again registers nothing new; the alias stays on the run's version.
    assert main(["evaluate", "--params", str(params)]) == 0
    assert len(client.search_model_versions("name='skinrisk-xception'")) == 1


def _last_weights(checkpoints: Path) -> list[np.ndarray]:
    import keras

    state = json.loads((checkpoints / "state.json").read_text())
    return keras.models.load_model(checkpoints / state["checkpoint"]).get_weights()


def test_the_gate_promotes_a_first_model_on_floors_then_judges_a_challenger_against_it(
        in_home: tuple[Path, Path], trained: dict, tmp_path: Path) -> None:
    import mlflow

    from skinrisk.promotion.registry import alias_version

    home, params = in_home
    assert main(["promote", "--params", str(params), "--challenger", "1"]) == 0
    client = mlflow.MlflowClient()
    assert alias_version(client, "champion") == "1"
    first = json.loads(sorted((home / "decisions").glob("*-v1.json"))[-1].read_text())
    assert first["verdict"] == "promote" and first["first_model"]
    assert "no champion yet" in first["reasons"][0]
    assert first["data"]["shards_md5"] == trained["shards_md5"]

    # A weak challenger (a few images, two epochs) against the champion, on the same images.
    weak = easy_params(tmp_path, max_images=40, epochs=2, image_size=71)
    assert main(["train", "--params", str(weak)]) == 0
    assert main(["evaluate", "--params", str(weak)]) == 0
    challenger = alias_version(client, "challenger")
    assert challenger not in (None, "1")
    assert main(["promote", "--params", str(params)]) == 0
    record = json.loads(sorted((home / "decisions").glob(f"*-v{challenger}.json"))[-1]
                        .read_text())
    assert record["verdict"] == "reject" and not record["first_model"]
    assert record["champion"]["version"] == "1" and record["challenger"]["version"] == challenger
    kinds = {c["kind"] for c in record["criteria"]}
    assert {"floor", "superiority", "non-inferiority"} <= kinds
    superiority = [c for c in record["criteria"] if c["kind"] == "superiority"]
    assert {c["test_set"] for c in superiority} == {"heldout", "cross_ethnic"}
    assert all(c["p_value"] is not None and c["interval"] for c in superiority)
    assert alias_version(client, "champion") == "1"  # nothing moved
    assert client.get_model_version("skinrisk-xception", challenger).tags["gate.verdict"] == (
        "reject")
    run = client.get_run(record["challenger"]["run_id"])
    assert run.data.tags["gate.verdict"] == "reject"
    names = {a.path for a in client.list_artifacts(run.info.run_id, "promotion")}
    assert any(n.endswith(".md") for n in names) and any(n.endswith(".json") for n in names)
    # Issue 21: the record says what the gate could see on each compared set, and the
    # dangerous grade's sensitivity at the champion's threshold is among the criteria.
    assert {d["test_set"] for d in record["detectable"]} == {"heldout", "cross_ethnic"}
    assert all(d["sentence"] for d in record["detectable"])
    assert any("sensitivity" in c["figure"] for c in record["criteria"])
    markdown = (home / "decisions" / f"{record['decision_id']}.md").read_text()
    assert "REJECT" in markdown and "| heldout | superiority | macro AUC |" in markdown
    assert "## What the gate could see at this n" in markdown
    assert record["detectable"][0]["sentence"] in markdown


def _audit(*args: str) -> tuple[int, dict]:
    code = main(["audit", *args])
    folder = Path(os.environ["SKINRISK_HOME"]) / "audits"
    newest = max(folder.glob("*/audit.json"), key=lambda p: p.stat().st_mtime_ns)
    return code, json.loads(newest.read_text())


def test_audit_traces_a_model_to_its_images_and_images_to_their_models(
        in_home: tuple[Path, Path], trained: dict) -> None:
    from pipelines.common import load_params
    from skinrisk.storage.tables import read_rows
    from skinrisk.training.plan import FIT, VALIDATION, assign_roles

    home, params = in_home
    code, trace = _audit("model", "skinrisk-xception/1")
    assert code == 0, [c for c in trace["checks"] if not c["ok"]]
    assert trace["model"]["run_id"] == trained["run_id"]
    assert trace["data"]["version"] == "data-v1" and trace["data"]["batches"][0]["batch_id"]
    # The image lists equal an independent recomputation from the versioned split table.
    rows = read_rows(home / "workspace" / "data" / "splits" / "assignments.parquet")
    roles = assign_roles(rows, load_params(params).train)
    assert trace["images"]["fit"]["ids"] == roles.ids(FIT)
    assert trace["images"]["validation"]["ids"] == roles.ids(VALIDATION)
    assert trace["images"]["heldout"]["ids"] == sorted(
        r["image_id"] for r in rows if r["split"] == "heldout")
    fit = trace["images"]["fit"]
    assert sum(fit["by_grade"].values()) == sum(fit["by_fitzpatrick"].values()) == len(
        fit["ids"])
    assert trace["training"]["params"]["train"]["epochs"] == EASY["train"]["epochs"]
    assert trace["evaluation"]["sets"]["heldout"]["macro_auc"] is not None
    markdown = (home / "audits" / "model-skinrisk-xception-1" / "audit.md").read_text()
    assert "cross-checks hold.**" in markdown and "FAIL" not in markdown
    assert "| fit |" in markdown

    # Forward from images: one fitted on, one tested on, one asked for by its received name.
    _, fitted = _audit("image", fit["ids"][0][:12])
    assert {(m["model"], m["role"]) for m in fitted["images"][0]["models"]} >= {
        ("skinrisk-xception/1", "trained on (fit)")}
    assert fitted["images"][0]["versions"] == [
        {"version": "data-v1", "quality": "accepted", "split": "train"}]
    heldout = trace["images"]["heldout"]["ids"][0]
    _, tested = _audit("image", heldout)
    assert ("skinrisk-xception/1", "tested on (heldout)") in {
        (m["model"], m["role"]) for m in tested["images"][0]["models"]}
    landing = home.parent / "landing" / "b1"
    manifest = (landing / "manifest.csv").read_text().splitlines()
    name, patient = manifest[1].split(",")[:2]
    received = hashlib.sha256((landing / name).read_bytes()).hexdigest()
    images = read_rows(home / "workspace" / "data" / "raw" / "b1" / "images.parquet")
    expected = next(r["image_id"] for r in images if r["received_sha256"] == received)
    _, by_name = _audit("image", name)
    assert [i["image_id"] for i in by_name["images"]] == [expected]
    for path in (home / "audits").rglob("audit.*"):
        assert patient not in path.read_text() and name not in path.read_text(), path


def test_audit_model_fails_when_an_artifact_disagrees_with_the_ledger(
        in_home: tuple[Path, Path], trained: dict) -> None:
    home, _ = in_home
    lists = next(p for p in (home / "mlflow").rglob("images.json")
                 if trained["run_id"] in p.parts)
    original = lists.read_bytes()
    data = json.loads(original)
    data["fit"] = data["fit"][1:]  # one training image quietly dropped from the record
    try:
        lists.write_text(json.dumps(data))
        code, trace = _audit("model", "1")
    finally:
        lists.write_bytes(original)
    assert code == 1
    failed = [c["what"] for c in trace["checks"] if not c["ok"]]
    assert failed == ["training image lists (MLflow artifact) = the ledger's digest"]


def test_audit_reproduce_retrains_a_model_to_its_recorded_figures(
        in_home: tuple[Path, Path], trained: dict, tmp_path: Path) -> None:
    import mlflow

    home, _ = in_home
    tiny = easy_params(tmp_path, max_images=40, epochs=1, image_size=71)
    assert main(["train", "--params", str(tiny)]) == 0
    assert main(["evaluate", "--params", str(tiny)]) == 0
    run_id = json.loads((home / "workspace" / "models" / "train.json").read_text())["run_id"]
    version = mlflow.MlflowClient().search_model_versions(f"run_id='{run_id}'")[0].version
    registry_before = len(mlflow.MlflowClient().search_model_versions())

    main(["audit", "reproduce", str(version), "--workdir", str(tmp_path / "scratch")])
    trace = json.loads((home / "audits" / f"reproduce-skinrisk-xception-{version}" /
                        "audit.json").read_text())
    checks = {c["what"]: c for c in trace["checks"]}
    assert checks["params: params.json = the ledger's digest"]["ok"]
    assert checks["the same images fitted and validated on (exact)"]["ok"]
    assert checks["every figure within 0.02 of the recorded one"]["ok"], trace["figures"]
    assert len(trace["figures"]) >= 8
    # Same CPU, same build: the reproduction is exact, not just within tolerance.
    assert max(r["difference"] for r in trace["figures"]) == 0.0
    dirty = mlflow.MlflowClient().get_run(run_id).data.tags["code.dirty"] == "True"
    assert checks["the recorded run was made from committed code"]["ok"] is not dirty
    # The reproduction registered nothing in the audited registry.
    assert len(mlflow.MlflowClient().search_model_versions()) == registry_before

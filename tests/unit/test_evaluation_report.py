"""The evaluation report: figures per set and slice, n everywhere, never NaN."""

from __future__ import annotations

import json

import numpy as np
import pytest

from skinrisk.evaluation.report import (
    Predictions,
    evaluate_sets,
    flat_metrics,
    skin_type,
)

sklearn = pytest.importorskip("sklearn.metrics", reason="scikit-learn is in the ml environment")
pytestmark = pytest.mark.ml


def simulated(n: int = 300, seed: int = 0, signal: float = 1.5) -> Predictions:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, n)
    logits = rng.normal(size=(n, 3)) + signal * np.eye(3)[truth]
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    patients = np.asarray([f"p{i // 2}" for i in range(n)], dtype=object)
    fitz = rng.integers(1, 7, n)
    return Predictions([f"i{i}" for i in range(n)], probabilities, truth, patients,
                       {"skin_type": np.asarray([skin_type(int(f)) for f in fitz], dtype=object),
                        "source": np.asarray(["a"] * n, dtype=object),
                        "body_site": np.asarray(["arm"] * (n - 3) + ["ear"] * 3, dtype=object)})


def test_figures_match_scikit_learn_and_carry_their_n() -> None:
    p = simulated()
    report = evaluate_sets({"heldout": p}, 200, 0.95, 0, ("skin_type", "body_site"))
    figures = report["sets"]["heldout"]
    assert figures["n"] == 300 and figures["patients"] == 150
    for k, grade in enumerate(("low-risk", "high-risk", "dangerous")):
        entry = figures["grades"][grade]
        assert entry["auc"] == pytest.approx(
            sklearn.roc_auc_score(p.truth == k, p.probabilities[:, k]), abs=1e-6)
        assert entry["auc_ci"][0] <= entry["auc"] <= entry["auc_ci"][1]
        assert entry["n_positive"] == int((p.truth == k).sum())
    assert figures["macro_auc"] == pytest.approx(sklearn.roc_auc_score(
        p.truth, p.probabilities, multi_class="ovr", average="macro"), abs=1e-6)
    assert figures["accuracy"] == pytest.approx(
        sklearn.accuracy_score(p.truth, p.probabilities.argmax(axis=1)))
    groups = figures["slices"]["skin_type"]
    assert set(groups) == {"I-II", "III-IV", "V-VI"}
    assert sum(g["n"] for g in groups.values()) == 300


def test_a_slice_missing_a_grade_says_why_instead_of_nan() -> None:
    p = simulated()
    p.truth[-3:] = 0  # the 3 "ear" images are all low-risk
    report = evaluate_sets({"heldout": p}, 100, 0.95, 0, ("body_site",))
    ear = report["sets"]["heldout"]["slices"]["body_site"]["ear"]
    assert ear["n"] == 3
    assert ear["grades"]["low-risk"]["auc"] is None
    assert ear["grades"]["low-risk"]["why"] == "only one class present"
    text = json.dumps(report)
    assert "NaN" not in text and "Infinity" not in text
    json.loads(text)  # strict JSON


def test_ood_accuracy_is_the_share_graded_low_risk() -> None:
    p = simulated(40)
    p.probabilities[:] = [0.1, 0.2, 0.7]
    p.probabilities[:10] = [0.8, 0.1, 0.1]
    report = evaluate_sets({"heldout": simulated(), "ood": p}, 100, 0.95, 0, ())
    assert report["ood"]["accuracy"] == pytest.approx(0.25)
    assert report["ood"]["graded"] == {"low-risk": 10, "high-risk": 0, "dangerous": 30}
    empty = evaluate_sets({"ood": p.subset(np.zeros(40, bool))}, 100, 0.95, 0, ())
    assert empty["ood"]["accuracy"] is None and "no out-of-distribution" in empty["ood"]["why"]


def test_flat_metric_names_follow_set_metric_grade_slice() -> None:
    report = evaluate_sets({"heldout": simulated(), "cross_ethnic": simulated(seed=1)}, 100,
                           0.95, 0, ("skin_type",))
    names = flat_metrics(report)
    assert "heldout_macro_auc" in names and "cross_ethnic_auc_dangerous" in names
    assert "cross_ethnic_macro_auc_skin_type_V-VI" in names
    assert "heldout_sensitivity_low-risk_skin_type_I-II" in names
    assert all(np.isfinite(v) for v in names.values())

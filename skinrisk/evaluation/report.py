"""A test set's figures from its predictions: the paper's, and what the paper left out.

Pure NumPy over (probabilities, truth, patients, slice columns). Per grade: one-vs-rest ROC AUC
with a patient-level bootstrap interval, the Youden-optimal threshold with its sensitivity and
specificity; macro AUC with its interval; accuracy; the row-normalised confusion matrix; and the
same per slice (skin type, source, body site), each with its n. A figure that cannot be computed
(a grade absent from a slice) is null with the reason, never NaN and never silently dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from skinrisk.metrics import (
    GRADES,
    auc_one_vs_rest,
    confusion_row_normalised,
    patient_bootstrap_auc,
    youden,
)

SKIN_TYPE_GROUPS = {1: "I-II", 2: "I-II", 3: "III-IV", 4: "III-IV", 5: "V-VI", 6: "V-VI"}


def skin_type(fitzpatrick: int | None) -> str:
    return SKIN_TYPE_GROUPS.get(fitzpatrick or 0, "unknown")


@dataclass(frozen=True)
class Predictions:
    """One test set's predictions, aligned row by row with its images' metadata."""

    image_ids: list[str]
    probabilities: np.ndarray  # n x 3
    truth: np.ndarray  # grade index
    patients: np.ndarray
    slices: dict[str, np.ndarray]  # slice name -> value per image

    def subset(self, mask: np.ndarray) -> Predictions:
        return Predictions([i for i, m in zip(self.image_ids, mask, strict=True) if m],
                           self.probabilities[mask], self.truth[mask], self.patients[mask],
                           {k: v[mask] for k, v in self.slices.items()})

    def __len__(self) -> int:
        return len(self.image_ids)


def _number(value: float) -> float | None:
    return None if value is None or np.isnan(value) else round(float(value), 6)


def grade_figures(p: Predictions, cis: dict[str, tuple[float, float]] | None) -> dict[str, Any]:
    out = {}
    for k, grade in enumerate(GRADES):
        positive = p.truth == k
        entry: dict[str, Any] = {"n_positive": int(positive.sum()),
                                 "n_negative": int((~positive).sum())}
        if positive.all() or not positive.any():
            entry.update(auc=None, auc_ci=None, why="only one class present")
        else:
            point = youden(positive, p.probabilities[:, k])
            ci = (cis or {}).get(grade)
            entry.update(auc=_number(auc_one_vs_rest(positive, p.probabilities[:, k])),
                         auc_ci=[_number(ci[0]), _number(ci[1])] if ci else None,
                         youden_threshold=_number(point.threshold),
                         sensitivity=_number(point.sensitivity),
                         specificity=_number(point.specificity))
        out[grade] = entry
    return out


def set_figures(p: Predictions, resamples: int, confidence: float, seed: int,
                slices: Sequence[str] = ()) -> dict[str, Any]:
    """Every figure for one test set (and, one level down, for each slice value)."""
    if not len(p):
        return {"n": 0, "why": "empty set"}
    cis = patient_bootstrap_auc(p.truth, p.probabilities, p.patients, resamples, seed,
                                confidence) if resamples else None
    grades = grade_figures(p, cis)
    aucs = [g["auc"] for g in grades.values() if g["auc"] is not None]
    macro_ci = (cis or {}).get("macro")
    predicted = np.argmax(p.probabilities, axis=1)
    out: dict[str, Any] = {
        "n": len(p), "patients": len(np.unique(p.patients)),
        "macro_auc": _number(float(np.mean(aucs))) if aucs else None,
        "macro_auc_ci": [_number(macro_ci[0]), _number(macro_ci[1])] if macro_ci else None,
        "macro_auc_grades": len(aucs),
        "accuracy": _number(float((predicted == p.truth).mean())),
        "grades": grades,
        "confusion": np.round(confusion_row_normalised(p.truth, predicted), 6).tolist(),
    }
    if slices:
        out["slices"] = {name: {str(value): set_figures(p.subset(p.slices[name] == value),
                                                        resamples, confidence, seed)
                                for value in sorted(set(p.slices[name].tolist()))}
                         for name in slices}
    return out


def ood_figures(p: Predictions) -> dict[str, Any]:
    """Out-of-distribution benign types: the share graded low-risk (the paper's OOD check)."""
    if not len(p):
        return {"n": 0, "accuracy": None, "why": "no out-of-distribution images in this version"}
    predicted = np.argmax(p.probabilities, axis=1)
    return {"n": len(p), "patients": len(np.unique(p.patients)),
            "accuracy": _number(float((predicted == 0).mean())),
            "graded": {g: int((predicted == k).sum()) for k, g in enumerate(GRADES)}}


def flat_metrics(report: dict[str, Any]) -> dict[str, float]:
    """`<set>_<metric>[_<grade>][_<slice>_<value>]` -> value, for MLflow (nulls left out):
    heldout_auc_dangerous, cross_ethnic_macro_auc_skin_type_V-VI."""
    out: dict[str, float] = {}
    for name, figures in report["sets"].items():
        _flatten(out, name, "", figures)
    ood = report.get("ood") or {}
    for key in ("n", "accuracy"):
        if ood.get(key) is not None:
            out[f"ood_{key}"] = float(ood[key])
    return out


def _flatten(out: dict[str, float], prefix: str, suffix: str, figures: dict[str, Any]) -> None:
    for key in ("n", "macro_auc", "accuracy"):
        if figures.get(key) is not None:
            out[f"{prefix}_{key}{suffix}"] = float(figures[key])
    for grade, entry in figures.get("grades", {}).items():
        for key in ("auc", "sensitivity", "specificity", "youden_threshold"):
            if entry.get(key) is not None:
                out[f"{prefix}_{key}_{grade}{suffix}"] = float(entry[key])
    for slice_name, values in figures.get("slices", {}).items():
        for value, sub in values.items():
            _flatten(out, prefix, f"{suffix}_{slice_name}_{_metric_safe(value)}", sub)


def _metric_safe(value: str) -> str:
    """MLflow metric names allow letters, digits, _ - . / and space."""
    return "".join(c if c.isalnum() or c in "_-." else "_" for c in value)


def evaluate_sets(sets: dict[str, Predictions], resamples: int, confidence: float, seed: int,
                  slices: Sequence[str]) -> dict[str, Any]:
    """The evaluation JSON: held-out and cross-ethnic in full, OOD as its own figure."""
    report: dict[str, Any] = {"confidence": confidence, "bootstrap_resamples": resamples,
                              "sets": {}}
    for name, predictions in sets.items():
        if name == "ood":
            report["ood"] = ood_figures(predictions)
        else:
            report["sets"][name] = set_figures(predictions, resamples, confidence, seed, slices)
    return report

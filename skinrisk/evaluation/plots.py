"""The paper's figures: ROC curves per grade (figure 3) and the row-normalised confusion matrix
(figure 4), one PNG each per test set. matplotlib with the Agg backend, no display needed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from skinrisk.evaluation.report import Predictions
from skinrisk.localfs import atomic_write
from skinrisk.metrics import GRADES


def _roc_curve(positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-scores, kind="mergesort")
    hits = positive[order].astype(float)
    tpr = np.r_[0.0, np.cumsum(hits) / max(hits.sum(), 1)]
    fpr = np.r_[0.0, np.cumsum(1 - hits) / max((1 - hits).sum(), 1)]
    return fpr, tpr


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def roc_png(p: Predictions, figures: dict, title: str, path: Path) -> None:
    plt = _figure()
    fig, ax = plt.subplots(figsize=(5, 5), dpi=110)
    for k, grade in enumerate(GRADES):
        entry = figures["grades"][grade]
        if entry["auc"] is None:
            continue
        fpr, tpr = _roc_curve(p.truth == k, p.probabilities[:, k])
        ci = entry["auc_ci"]
        band = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci and None not in ci else ""
        ax.plot(fpr, tpr, lw=1.6, label=f"{grade}: AUC {entry['auc']:.3f}{band}")
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=0.8)
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", xlim=(0, 1), ylim=(0, 1.01),
           title=f"{title} (n={figures['n']})")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize=8)
    else:  # matplotlib warns on a legend with nothing in it; say what is missing instead
        ax.text(0.5, 0.55, "no ROC curve: no grade has both\npositives and negatives here",
                ha="center", va="center", fontsize=9)
    _save(fig, path)


def confusion_png(figures: dict, title: str, path: Path) -> None:
    plt = _figure()
    matrix = np.asarray(figures["confusion"])
    fig, ax = plt.subplots(figsize=(4.6, 4), dpi=110)
    image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center",
                color="white" if value > 0.5 else "black")
    ax.set_xticks(range(len(GRADES)), GRADES)
    ax.set_yticks(range(len(GRADES)), GRADES)
    ax.set(xlabel="predicted grade", ylabel="true grade", title=f"{title} (rows sum to 1)")
    fig.colorbar(image, ax=ax, fraction=0.046)
    _save(fig, path)


def _save(fig, path: Path) -> None:
    import io

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    fig.clf()
    import matplotlib.pyplot as plt

    plt.close(fig)
    atomic_write(path, buffer.getvalue(), durable=False)

"""What an evaluation writes to its folder: the report (JSON), every prediction (Parquet) and
the paper's figures (PNG). dvc.yaml names the same files as the evaluate stage's metrics and
plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from skinrisk.evaluation.report import Predictions
from skinrisk.localfs import write_json
from skinrisk.metrics import GRADES
from skinrisk.storage.tables import write_rows

REPORT = "evaluate.json"
PREDICTIONS = "predictions.parquet"
PLOTS = "plots"


def write_outputs(folder: Path, report: dict[str, Any], sets: dict[str, Predictions]) -> None:
    from skinrisk.evaluation.plots import confusion_png, roc_png

    for name, figures in report["sets"].items():
        if figures["n"]:
            roc_png(sets[name], figures, f"{name}: ROC per grade", folder / PLOTS /
                    f"{name}_roc.png")
            confusion_png(figures, name, folder / PLOTS / f"{name}_confusion.png")
    write_rows(folder / PREDICTIONS, _prediction_rows(sets), _prediction_schema())
    write_json(folder / REPORT, report)


def _prediction_rows(sets: dict[str, Predictions]) -> list[dict[str, Any]]:
    return [{"image_id": image_id, "split": name, "grade": int(p.truth[i]),
             **{f"p_{g}": float(p.probabilities[i, k]) for k, g in enumerate(GRADES)}}
            for name, p in sets.items() for i, image_id in enumerate(p.image_ids)]


def _prediction_schema():
    import pyarrow as pa

    return pa.schema([("image_id", pa.string()), ("split", pa.string()), ("grade", pa.int64())]
                     + [(f"p_{g}", pa.float64()) for g in GRADES])

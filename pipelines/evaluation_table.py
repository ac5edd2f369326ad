"""An evaluation report as the table `skinrisk evaluate` prints (both kinds of evaluation)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from skinrisk.metrics import GRADES


def summary_table(report: dict[str, Any]) -> Table:
    pct = round(report["confidence"] * 100)
    table = Table(title=f"evaluate ({pct}% CI by patient-level bootstrap)")
    for column in ("set", "n", "macro AUC", *(f"AUC {g}" for g in GRADES), "accuracy"):
        table.add_column(column, justify="right" if column != "set" else "left")
    for name, f in report["sets"].items():
        if not f["n"]:
            table.add_row(name, "0", "-", "-", "-", "-", "-")
            continue
        table.add_row(name, str(f["n"]), _with_ci(f["macro_auc"], f["macro_auc_ci"]),
                      *(_with_ci(f["grades"][g]["auc"], f["grades"][g]["auc_ci"])
                        for g in GRADES), _fmt(f["accuracy"]))
    ood = report.get("ood") or {}
    table.add_row("ood (graded low-risk)", str(ood.get("n", 0)), "", "", "", "",
                  _fmt(ood.get("accuracy")))
    return table


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _with_ci(value: float | None, ci: list[float | None] | None) -> str:
    if value is None:
        return "n/a"
    if not ci or None in ci:
        return f"{value:.3f}"
    return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"

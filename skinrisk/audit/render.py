"""Audit traces as Markdown for a reader; the JSON beside it holds everything, image ids too."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def _table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> list[str]:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("—" if v is None else str(v) for v in row) + " |"
              for row in rows]
    return [*lines, ""]


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "—"


def _checks(checks: list[dict[str, Any]]) -> list[str]:
    bad = [c for c in checks if not c["ok"]]
    head = (f"**All {len(checks)} cross-checks hold.**" if not bad else
            f"**{len(bad)} of {len(checks)} cross-checks FAIL** — this trace is not evidence "
            "until they are explained.")
    return ["## Cross-checks", "", head, "",
            *_table(["check", "holds", "detail"],
                    [(c["what"], "yes" if c["ok"] else "**NO**", c["detail"]) for c in checks])]


def _fmt(value: Any) -> str:
    return "—" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _ci(ci: Any) -> str:
    # A bound is None where the interval is undefined (a set without every grade, so no macro
    # AUC in the resamples); the trace says so with "—", it does not fail.
    if isinstance(ci, list) and len(ci) == 2 and None not in ci:
        return f"[{ci[0]:.3f}, {ci[1]:.3f}]"
    return "—"


def model_markdown(trace: dict[str, Any]) -> str:
    model, training, data = trace["model"], trace["training"], trace["data"]
    lines = [f"# Audit: {trace['audit']['subject']}", "",
             f"Generated {trace['audit']['generated_at']} from the MLflow registry, the audit "
             f"ledger ({trace['audit']['ledger']['entries']} entries, "
             f"{'intact' if trace['audit']['ledger']['intact'] else '**BROKEN**'}), dataset "
             f"version `{data['version']}` and the decision records. Image ids: `audit.json`, "
             "key `images`.", "",
             *_checks(trace["checks"]),
             "## Model", "",
             *_table(["name", "version", "aliases now", "registered", "MLflow run"],
                     [(model["name"], model["version"], ", ".join(model["aliases"]) or "none",
                       model["registered_at"], model["run_id"])]),
             "## Promotion", ""]
    promo = trace["promotion"]
    lines += ([f"Promoted by **{promo['by']}** at {promo['at']} (decision "
               f"`{promo['decision_id']}`): {promo['applied']}.", ""] if promo else
              ["Never promoted by the gate.", ""])
    if trace["decisions"]:
        lines += _table(["decision", "at", "by", "verdict", "applied", "record intact"],
                        [(d["decision_id"], d["at"], d["by"], d["verdict"], d["applied"],
                          "yes" if d["record_intact"] else "**NO**")
                         for d in trace["decisions"]])
        for d in trace["decisions"]:
            lines += [f"Reasons ({d['decision_id']}):", "", *[f"- {r}" for r in d["reasons"]],
                      ""]
    lines += ["## Training", "",
              *_table(["run", "started", "ended", "triggered by", "code commit", "best epoch"],
                      [(training["run_id"], training["started_at"], training["ended_at"],
                        training["triggered_by"], (training["code"]["commit"] or "")[:12] +
                        (" (with uncommitted changes)" if training["code"]["uncommitted_changes"]
                         else ""), f"{training['best_epoch'] + 1} (MLflow step "
                        f"{training['best_epoch']})")]),
              f"Params sha256 `{training['params_sha256']}`; environment locks: " +
              ", ".join(f"{k} `{v[:12]}`" for k, v in training["environment_locks"].items()),
              "", "## Data", "",
              f"Dataset version `{data['version']}` (commit `{data['commit'][:12]}`); "
              f"evaluated on `{data['evaluated_on']}`.", "",
              *_table(["batch", "ingested", "by", "files in", "accepted", "quarantined",
                       "reasons", "validation"],
                      [(b["batch_id"], b.get("ingested_at"), b.get("ingested_by"),
                        b.get("files_in"), b.get("accepted"), b.get("quarantined_files"),
                        _counts(b.get("by_reason") or {}),
                        (data["validation"].get(b["batch_id"]) or {}).get("status"))
                       for b in data["batches"]]),
              "Quality: " + _counts({k: data["quality_report"][k] for k in (
                  "images_in", "accepted", "quarantined") if k in data["quality_report"]}) +
              "; quarantined by reason: " + _counts(data["quality_report"].get("by_reason", {}))
              + "; kept with flags: " + _counts(data["quality_report"].get("kept_flagged", {})),
              "", "## Images per set", "",
              *_table(["set", "images", "patients", "by grade", "by source", "by Fitzpatrick",
                       "list sha256"],
                      [(name, s["images"], s["patients"], _counts(s["by_grade"]),
                        _counts(s["by_source"]), _counts(s["by_fitzpatrick"]),
                        f"`{s['sha256'][:12]}`" if s["recorded"] else "not recorded")
                       for name, s in trace["images"].items()])]
    evaluation = trace["evaluation"]
    if evaluation:
        lines += ["## Metrics (AUC first)", "",
                  *_table(["set", "n", "macro AUC", "CI", "low-risk", "high-risk", "dangerous",
                           "accuracy"],
                          [(name, s["n"], _fmt(s["macro_auc"]), _ci(s["macro_auc_ci"]),
                            *(_fmt(s["auc"].get(g)) for g in ("low-risk", "high-risk",
                                                               "dangerous")),
                            _fmt(s["accuracy"])) for name, s in evaluation["sets"].items()])]
    lines += _external(trace.get("external_evaluations") or [])
    lines += ["## Ledger entries", "",
              *_table(["seq", "at", "event", "by", "hash"],
                      [(e["seq"], e["at"], e["event"], e["by"], f"`{e['hash'][:16]}`")
                       for e in trace["ledger_entries"]])]
    return "\n".join(lines)


def _external(evaluations: list[dict[str, Any]]) -> list[str]:
    """External evaluations: other cohorts this model was graded on (`evaluate --model`)."""
    if not evaluations:
        return ["## External evaluations", "", "None.", ""]
    return ["## External evaluations", "", "On ingested batches it never trained on; figures "
            "from the ledger, the whole report in each MLflow run.", "",
            *_table(["at", "by", "batches", "images", "images sha256", "macro AUC", "CI",
                     "accuracy", "OOD accuracy", "MLflow run"],
                    [(e["at"], e["by"], ", ".join(e["batches"]), e["images"],
                      f"`{(e['images_sha256'] or '')[:12]}`", _fmt(e["figures"].get("macro_auc")),
                      _ci(e["figures"].get("macro_auc_ci")), _fmt(e["figures"].get("accuracy")),
                      _fmt(e["figures"].get("ood_accuracy")), e["run_id"])
                     for e in evaluations])]


def image_markdown(trace: dict[str, Any]) -> str:
    lines = [f"# Audit: image {trace['audit']['subject']}", "",
             f"Generated {trace['audit']['generated_at']}.", ""]
    for image in trace["images"]:
        lines += [f"## {image['image_id'] or 'quarantined at ingest'}", "",
                  f"Batch `{image['batch_id']}`, ingested {image.get('ingested_at') or '—'} by "
                  f"{image.get('ingested_by') or '—'}; ingest outcome: {image['ingest']}.", ""]
        if image["versions"]:
            lines += _table(["dataset version", "quality", "split"],
                            [(v["version"], v["quality"], v["split"] or "—")
                             for v in image["versions"]])
        lines += _table(["model", "run", "role", "data version", "aliases now"],
                        [(m["model"], m["run_id"], m["role"], m["data_version"],
                          ", ".join(m["aliases"]) or "—") for m in image["models"]])
    return "\n".join(lines)


def reproduce_markdown(trace: dict[str, Any]) -> str:
    recorded, again = trace["recorded"], trace["reproduced"]
    return "\n".join([
        f"# Reproduction: {trace['audit']['subject']}", "",
        f"Generated {trace['audit']['generated_at']}; scratch workspace "
        f"`{trace['audit']['scratch']}`.", "",
        f"Recorded run `{recorded['run_id']}` (code `{recorded['code_commit'][:12]}`, data "
        f"`{recorded['data_version']}`, evaluated on `{recorded['evaluated_on']}`); "
        f"reproduced as run `{again['run_id']}` in the scratch MLflow store.", "",
        *_checks(trace["checks"]),
        f"## Figures (tolerance {trace['tolerance']})", "",
        *_table(["figure", "recorded", "reproduced", "difference", "within"],
                [(r["metric"], _fmt(r["recorded"]), _fmt(r["reproduced"]),
                  _fmt(r["difference"]), "yes" if r["within"] else "**NO**")
                 for r in trace["figures"]])])

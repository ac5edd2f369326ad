"""The pieces of `make calibrate`: labels by eye, cached scores of real photos, and the figures
(precision/recall with Wilson intervals, rejection rate by group with Fisher's exact test)."""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from skinrisk.quality.records import ScoreRecord
from skinrisk.reasons import Reason
from skinrisk.taxonomy import resolve_diagnosis

# Label column -> the reason of the check judged by it.
LABELLED: dict[str, Reason] = {
    "ink": Reason.DYE, "hair": Reason.HAIR, "exudate": Reason.EXUDATE,
    "background_dominant": Reason.BACKGROUND_DOMINANT, "blur": Reason.BLUR,
    "underexposed": Reason.UNDEREXPOSED, "overexposed": Reason.OVEREXPOSED,
    "face": Reason.FACE_VISIBLE,
}
Verdicts = Mapping[str, list[tuple[Reason, str]]]


def load_labels(path: Path, images: Path) -> dict[str, dict[str, int]]:
    """file name -> label column -> 0/1. The labels are keyed by the photo's sha256, not its
    name: PAD-UFES-20's file names carry its patient ids, which nothing in the repository may
    hold (the pipeline's workspace is a clone of it)."""
    with path.open(newline="") as handle:
        by_hash = {row["image_sha256"]: {k: int(row[k]) for k in LABELLED}
                   for row in csv.DictReader(handle)}
    names = {hashlib.sha256(p.read_bytes()).hexdigest(): p.name for p in images.glob("*.png")}
    return {names[h]: labels for h, labels in by_hash.items() if h in names}


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def _ratio(hits: int, n: int) -> str:
    if n == 0:
        return "— (none)"
    low, high = wilson(hits, n)
    return f"{hits / n:.2f} ({low:.2f}-{high:.2f})"


def label_figures(labels: Mapping[str, Mapping[str, int]], verdicts: Verdicts
                  ) -> list[dict[str, Any]]:
    """Per labelled check: positives, flagged, true positives, precision and recall."""
    rows = []
    for column, reason in LABELLED.items():
        names = [n for n in labels if n in verdicts]
        flagged = {n for n in names if any(r is reason for r, _ in verdicts[n])}
        positive = {n for n in names if labels[n][column]}
        tp = len(flagged & positive)
        rows.append({"reason": reason.value, "label": column, "positives": len(positive),
                     "flagged": len(flagged), "tp": tp, "precision": _ratio(tp, len(flagged)),
                     "recall": _ratio(tp, len(positive))})
    return rows


def pad_grades(metadata: Path) -> tuple[dict[str, str], dict[str, str]]:
    """file name -> risk grade, and file name -> PAD diagnosis code."""
    with metadata.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    grades = {r["img_id"]: resolve_diagnosis(f"PAD:{r['diagnostic']}").grade.value for r in rows}
    return grades, {r["img_id"]: r["diagnostic"] for r in rows}


def fisher_p(a: int, b: int, c: int, d: int) -> float:
    """Two-sided Fisher exact p for [[a, b], [c, d]]."""
    from scipy.stats import fisher_exact

    return float(fisher_exact([[a, b], [c, d]])[1])


def grade_rates(verdicts: Verdicts, group_of: Mapping[str, str]) -> list[dict[str, Any]]:
    """Per group: photos, rejected, rate, and Fisher's p of the group against all others."""
    names = [n for n in verdicts if n in group_of]
    total, total_rejected = len(names), sum(bool(verdicts[n]) for n in names)
    rows = []
    for group in sorted({group_of[n] for n in names}):
        mine = [n for n in names if group_of[n] == group]
        rejected = sum(bool(verdicts[n]) for n in mine)
        others, others_rejected = total - len(mine), total_rejected - rejected
        rows.append({"group": group, "n": len(mine), "rejected": rejected,
                     "rate": rejected / len(mine),
                     "p": fisher_p(rejected, len(mine) - rejected, others_rejected,
                                   others - others_rejected)})
    return rows


def _code_digest() -> str:
    """The scores depend on the checks' code: a change there re-scores every photo."""
    quality = Path(__file__).resolve().parents[1] / "skinrisk" / "quality"
    digest = hashlib.sha256()
    for path in sorted(quality.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def score_pad(images: Path, cache: Path) -> dict[str, tuple[ScoreRecord, int, int]]:
    """file name -> (scores, width, height), scored once per content and code version."""
    from PIL import Image

    from skinrisk.quality.runner import score_bytes

    code = _code_digest()
    saved = json.loads(cache.read_text()) if cache.is_file() else {}
    if saved.get("code") != code:
        saved = {"code": code, "photos": {}}
    out = {}
    for path in sorted(images.glob("*.png")):
        data = path.read_bytes()
        key = hashlib.sha256(data).hexdigest()
        entry = saved["photos"].get(path.name)
        if entry is None or entry["sha256"] != key:
            with Image.open(path) as img:
                size = img.size
            entry = {"sha256": key, "size": size, "scores": asdict(score_bytes(path.name, data))}
            saved["photos"][path.name] = entry
        names = {f.name for f in fields(ScoreRecord)}
        out[path.name] = (ScoreRecord(**{k: v for k, v in entry["scores"].items() if k in names}),
                          *entry["size"])
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(saved))
    return out


def rate_gap(rows: Iterable[Mapping[str, Any]]) -> float:
    """How far the highest group's rejection rate is above the lowest's, in points."""
    rates = [r["rate"] for r in rows]
    return 100 * (max(rates) - min(rates)) if rates else 0.0


def acting(verdicts: Verdicts, actions: Mapping[str, str]) -> dict[str, list[tuple[Reason, str]]]:
    """The verdicts cut to the checks that reject under ``actions`` (quality.actions): what the
    stage actually removes from the curated set."""
    return {name: [(r, d) for r, d in failed if actions.get(r.value, "reject") == "reject"]
            for name, failed in verdicts.items()}


def prevalence(labels: Mapping[str, Mapping[str, int]], group_of: Mapping[str, str],
               columns: Iterable[str]) -> list[dict[str, Any]]:
    """Per group: photos, and the share labelled with each column (by eye, not by a check)."""
    names = [n for n in labels if n in group_of]
    rows = []
    for group in sorted({group_of[n] for n in names}):
        mine = [n for n in names if group_of[n] == group]
        rows.append({"group": group, "n": len(mine),
                     **{c: sum(labels[n][c] for n in mine) / len(mine) for c in columns}})
    return rows


def review_evidence(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A reviewer's overrides as calibration evidence, per check, from the ledger's
    quality_override events (each records what the filter said before it: filter_reasons,
    the rejections, and filter_flags, the checks it was kept with). An accept overturns every
    check the filter gave; a reject upholds the check the reviewer names, or, where the filter
    did not give it, is a miss of that check. Overrides are written where a reviewer disagrees
    or confirms a flag, so these are counts, not a precision."""
    upheld: dict[str, int] = {}
    overturned: dict[str, int] = {}
    missed: dict[str, int] = {}
    for event in events:
        codes = {c for field in ("filter_reasons", "filter_flags")
                 for c in (event.get(field) or "").split(";") if c}
        if event["decision"] == "accept":
            for code in codes:
                overturned[code] = overturned.get(code, 0) + 1
        elif event.get("reason"):
            tally = upheld if event["reason"] in codes else missed
            tally[event["reason"]] = tally.get(event["reason"], 0) + 1
    return [{"reason": code, "upheld": upheld.get(code, 0), "overturned": overturned.get(code, 0),
             "missed": missed.get(code, 0)}
            for code in sorted(set(upheld) | set(overturned) | set(missed))]

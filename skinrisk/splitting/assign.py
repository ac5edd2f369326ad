"""Which set each curated image belongs to, and the checks that no patient crosses the line.

A patient's side is a pure function of its surrogate id and a salt: sha256(salt + patient)
read as a number in [0, 1) below ``test_fraction`` means held-out. The same patient therefore
lands on the same side in every dataset version, whatever arrives later, and every lesion and
near-duplicate follows its patient. Grades are stratified in expectation (the hash ignores the
grade); the summary reports the achieved held-out share per grade, and validation of the
split warns when it strays. Images from the cross-ethnic sources form their own test set and
are never trained on; out-of-distribution types form the OOD set. Images from a source declared
to send another modality than the model trains on (dermoscopy for a clinical model) are in no
set at all: neither trained nor tested on, and counted.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from skinrisk.errors import SkinriskError

TRAIN, HELDOUT, CROSS_ETHNIC, OOD = "train", "heldout", "cross_ethnic", "ood"
OTHER_MODALITY = "other_modality"  # kept in the dataset, used by no model of this modality
SPLITS = (TRAIN, HELDOUT, CROSS_ETHNIC, OOD, OTHER_MODALITY)
OOD_FLAG = "out-of-distribution"


class LeakageError(SkinriskError):
    """A patient, lesion or near-duplicate group on both sides of the train/test line."""


@dataclass(frozen=True)
class SplitRule:
    test_fraction: float
    salt: str
    cross_ethnic_sources: tuple[str, ...]
    source_modality: Mapping[str, str] = field(default_factory=dict)  # unlisted: clinical
    train_modalities: tuple[str, ...] = ("clinical",)

    def modality(self, source: str) -> str:
        return self.source_modality.get(source, "clinical")


def patient_draw(patient: str, salt: str) -> float:
    """A number in [0, 1) fixed forever by (salt, patient)."""
    digest = hashlib.sha256(f"{salt}\x00{patient}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign(row: dict[str, Any], rule: SplitRule) -> str:
    if rule.modality(row["source"]) not in rule.train_modalities:
        return OTHER_MODALITY  # first: not even a test set, whatever else the source is
    if row["source"] in rule.cross_ethnic_sources:
        return CROSS_ETHNIC
    if OOD_FLAG in (row.get("flags") or "").split(";"):
        return OOD
    return HELDOUT if patient_draw(row["patient"], rule.salt) < rule.test_fraction else TRAIN


def assign_all(rows: Iterable[dict[str, Any]], rule: SplitRule) -> list[dict[str, Any]]:
    """One row per image: identifiers, slicing columns and its split; leakage-checked."""
    out = [{"image_id": r["image_id"], "batch_id": r["batch_id"], "patient": r["patient"],
            "lesion": r["lesion"], "dup_group": r["dup_group"], "grade": r["grade"],
            "source": r["source"], "fitzpatrick": r["fitzpatrick"], "split": assign(r, rule)}
           for r in rows]
    check_leakage(out)
    return out


def check_leakage(rows: list[dict[str, Any]]) -> None:
    """Train must share no patient, lesion or near-duplicate group with any test set.

    The OOD set is the exception for patients (not lesions or duplicates): it asks whether a
    type never seen is graded low-risk, and a patient's other lesion in training teaches the
    model nothing about that type. A grader's test sets (held-out, cross-ethnic) are strict.
    """
    problems = []
    for key in ("patient", "lesion", "dup_group"):
        sides: dict[str, set[str]] = defaultdict(set)
        for r in rows:
            if (key == "patient" and r["split"] == OOD) or r["split"] == OTHER_MODALITY:
                continue  # other modality: on neither side, so it cannot leak
            sides[r[key]].add(TRAIN if r["split"] == TRAIN else "test")
        crossing = sorted(k for k, s in sides.items() if len(s) > 1)
        if crossing:
            problems.append(f"{key}: {', '.join(crossing[:20])}"
                            + (f" and {len(crossing) - 20} more" if len(crossing) > 20 else ""))
    if problems:
        raise LeakageError("the split puts these on both sides of the train/test line; the "
                           "pipeline stops here. " + "; ".join(problems) + ". A near-duplicate "
                           "group spanning two patients, or a patient in a cross-ethnic source "
                           "and a training source, must be resolved in the data (quarantine "
                           "one side) before the dataset can be versioned.")


def summarize(rows: list[dict[str, Any]], rule: SplitRule) -> dict[str, Any]:
    """Counts per split and grade, source and Fitzpatrick type; held-out share per grade."""
    def table(column: str) -> dict[str, dict[str, int]]:
        counts: dict[str, Counter] = {s: Counter() for s in SPLITS}
        for r in rows:
            counts[r["split"]][str(r[column])] += 1
        return {s: dict(sorted(c.items())) for s, c in counts.items()}

    by_grade = table("grade")
    share = {}
    for grade in sorted({r["grade"] for r in rows}):
        pool = by_grade[TRAIN].get(grade, 0) + by_grade[HELDOUT].get(grade, 0)
        share[grade] = round(by_grade[HELDOUT].get(grade, 0) / pool, 4) if pool else None
    patients = {s: len({r["patient"] for r in rows if r["split"] == s}) for s in SPLITS}
    return {
        "rule": {"test_fraction": rule.test_fraction, "salt": rule.salt,
                 "cross_ethnic_sources": list(rule.cross_ethnic_sources),
                 "source_modality": dict(sorted(rule.source_modality.items())),
                 "train_modalities": list(rule.train_modalities)},
        "images": {s: sum(r["split"] == s for r in rows) for s in SPLITS},
        "left_out_by_modality": dict(sorted(Counter(
            rule.modality(r["source"]) for r in rows if r["split"] == OTHER_MODALITY).items())),
        "patients": patients,
        "by_grade": by_grade, "by_source": table("source"), "by_fitzpatrick": table("fitzpatrick"),
        "heldout_share_by_grade": share,
    }

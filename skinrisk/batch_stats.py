"""Counts that describe a batch without naming anyone: what `batch check` and the demo print."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from skinrisk.batch import ManifestRow
from skinrisk.taxonomy import RiskGrade, resolve_diagnosis


@dataclass(frozen=True)
class BatchStats:
    images: int
    patients: int
    lesions: int
    by_grade: dict[str, int]
    by_fitzpatrick: dict[str, int]  # "I".."VI" and "unknown"
    by_source: dict[str, int]
    by_flag: dict[str, int]
    pathology_verified: int
    out_of_distribution: int


_ROMAN = ("I", "II", "III", "IV", "V", "VI")


def summarize_rows(rows: Iterable[ManifestRow]) -> BatchStats:
    rows = list(rows)
    diagnoses = [resolve_diagnosis(r.diagnosis) for r in rows]
    flags = Counter(f.value for d in diagnoses for f in d.flags)
    grades = Counter(d.grade.value for d in diagnoses if d.trainable)
    return BatchStats(
        images=len(rows),
        patients=len({(r.source, r.patient_id) for r in rows}),
        lesions=len({(r.source, r.patient_id, r.lesion_id) for r in rows}),
        by_grade={g.value: grades.get(g.value, 0) for g in RiskGrade},
        by_fitzpatrick=dict(sorted(Counter(
            _ROMAN[r.fitzpatrick - 1] if r.fitzpatrick else "unknown" for r in rows).items(),
            key=lambda kv: (*_ROMAN, "unknown").index(kv[0]))),
        by_source=dict(sorted(Counter(r.source for r in rows).items())),
        by_flag=dict(sorted(flags.items())),
        pathology_verified=sum(r.pathology_verified for r in rows),
        out_of_distribution=sum(not d.trainable for d in diagnoses),
    )

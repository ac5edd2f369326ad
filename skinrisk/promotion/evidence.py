"""How much evidence a comparison stands on, counted in patients.

Images of one patient are correlated (the bootstrap resamples patients for that reason), so a
slice whose 24 dangerous images come from 2 patients holds 2 observations of the dangerous
grade, whatever its image count. A figure is judged only when its images come from at least
``patients`` patients, and each grade it needs is present in at least ``positives`` patients
and absent in as many (one-vs-rest AUC needs both sides).
"""

from __future__ import annotations

import numpy as np

from skinrisk.config import Evidence
from skinrisk.metrics import GRADES


def shortfall(
    truth: np.ndarray, patients: np.ndarray, grades: tuple[str, ...], minimum: Evidence
) -> list[str]:
    """What is short of ``minimum`` for judging ``grades`` on these images ([] when enough)."""
    short = []
    n_patients = len(set(patients.tolist()))
    if n_patients < minimum.patients:
        short.append(f"{n_patients} patients")
    for grade in grades:
        k = GRADES.index(grade)
        with_grade = len(set(patients[truth == k].tolist()))
        without = len(set(patients[truth != k].tolist()))
        if with_grade < minimum.positives:
            short.append(f"{with_grade} patients with {grade}")
        if without < minimum.positives:
            short.append(f"{without} patients without {grade}")
    return short


def requirement(grades: tuple[str, ...], minimum: Evidence) -> str:
    which = "each grade" if len(grades) == len(GRADES) else "/".join(grades)
    return (
        f">= {minimum.patients} patients and >= {minimum.positives} patients with and "
        f"without {which}"
    )

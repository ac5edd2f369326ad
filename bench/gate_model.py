"""Simulated test sets and paired models for bench.gate: known truth, patient-clustered errors.

A test set is ~1,100 images from 900 patients (200 of them with two images), each patient with
one grade and one Fitzpatrick type (I-VI uniform). A model's score for grade k on an image is
``s_k * [grade == k] + noise_k`` with unit-variance noise, so the population one-vs-rest AUC of
grade k is Phi(s_k / sqrt(2)), exact, whatever the noise's structure. The noise is the sum of a
patient effect (images of one patient err together) and an image effect; with correlated errors
a share ``rho`` of it is common to champion and challenger (case difficulty: real models find
the same images hard), which is what makes a paired test sharp.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from skinrisk.evaluation.report import Predictions, skin_type

PATIENTS, PAIRED = 900, 200  # 900 patients, 200 of them with two images: 1,100 images
CHAMPION_AUC = 0.85
PATIENT_SHARE = 0.5  # of the noise's variance, shared by one patient's images
CORRELATED = 0.6  # rho: share of the noise common to both models under correlated errors
GRADES = 3
DANGEROUS = 2


@dataclass(frozen=True)
class Effect:
    """The challenger's true AUCs: ``everywhere`` per grade, ``dark`` per grade on V-VI."""

    everywhere: tuple[float, float, float] = (CHAMPION_AUC,) * 3
    dark: tuple[float, float, float] | None = None  # None: as everywhere

    def signal(self, dark: np.ndarray) -> np.ndarray:
        base = np.tile(_signal(self.everywhere), (len(dark), 1))
        if self.dark is not None:
            base[dark] = _signal(self.dark)
        return base


@dataclass(frozen=True)
class SetModel:
    """How one test set is drawn and how the challenger differs from the champion on it."""

    effect: Effect = Effect()
    rho: float = 0.0
    thin_dark_dangerous: bool = False  # V-VI dangerous images from two patients only


def _signal(aucs: tuple[float, ...]) -> np.ndarray:
    return np.sqrt(2) * np.asarray([NormalDist().inv_cdf(a) for a in aucs])


def draw_pair(
    models: dict[str, SetModel], rng: np.random.Generator
) -> tuple[dict[str, Predictions], dict[str, Predictions]]:
    """(challenger, champion) predictions on freshly drawn test sets."""
    challenger, champion = {}, {}
    for name, model in models.items():
        truth, fitz, patients = _cohort(name, model, rng)
        n = len(truth)
        patient_index = np.unique(patients, return_inverse=True)[1]
        common = _noise(patient_index, n, rng)
        scores = []
        for effect in (Effect(), model.effect):
            own = _noise(patient_index, n, rng)
            noise = np.sqrt(model.rho) * common + np.sqrt(1 - model.rho) * own
            scores.append(effect.signal(fitz >= 5) * np.eye(GRADES)[truth] + noise)
        champion[name] = _predictions(name, truth, fitz, patients, scores[0])
        challenger[name] = _predictions(name, truth, fitz, patients, scores[1])
    return challenger, champion


def _cohort(name: str, model: SetModel, rng: np.random.Generator):
    grade = rng.integers(0, GRADES, PATIENTS)
    fitz = rng.integers(1, 7, PATIENTS)
    images = np.r_[np.arange(PATIENTS), np.arange(PAIRED)]  # patient of each image
    patients = np.asarray([f"{name}{p}" for p in images], dtype=object)
    truth, fitz = grade[images], fitz[images]
    if model.thin_dark_dangerous:
        few = (fitz >= 5) & (truth == DANGEROUS)
        patients[few] = np.where(np.arange(few.sum()) % 2 == 0, f"{name}-d0", f"{name}-d1")
    return truth, fitz, patients


def _noise(patient_index: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    per_patient = rng.normal(size=(patient_index.max() + 1, GRADES))[patient_index]
    return np.sqrt(PATIENT_SHARE) * per_patient + np.sqrt(1 - PATIENT_SHARE) * rng.normal(
        size=(n, GRADES)
    )


def _predictions(name: str, truth, fitz, patients, scores) -> Predictions:
    n = len(truth)
    return Predictions(
        [f"{name}-{i}" for i in range(n)],
        scores,
        truth,
        patients,
        {
            "skin_type": np.asarray([skin_type(int(f)) for f in fitz], dtype=object),
            "source": np.asarray(["s"] * n, dtype=object),
            "body_site": np.asarray(["unknown"] * n, dtype=object),
        },
    )

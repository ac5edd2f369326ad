"""What a training run uses and how it steps, decided in plain Python before TensorFlow starts.

Pure functions of the split assignments and TrainParams: which training images are fitted and
which are the validation carve-out (by patient, so no patient is on both sides), the small-run
cap, class weights, the learning rate of each epoch, and the early-stopping bookkeeping. The
loop only executes this plan, so a resumed run makes exactly the decisions the first one would.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from skinrisk.config import TrainParams
from skinrisk.errors import SkinriskError
from skinrisk.splitting.assign import TRAIN
from skinrisk.taxonomy import RiskGrade

FIT, VALIDATION = "fit", "validation"
GRADE_INDEX = {g.value: i for i, g in enumerate(RiskGrade)}


def _draw(key: str, salt: str) -> float:
    digest = hashlib.sha256(f"{salt}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class Roles:
    """image_id -> FIT or VALIDATION; images not listed are not used (other splits, cap)."""

    of: dict[str, str]
    grades: dict[str, int]

    def ids(self, role: str) -> list[str]:
        return sorted(i for i, r in self.of.items() if r == role)

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for role in (FIT, VALIDATION):
            by_grade = Counter(self.grades[i] for i in self.ids(role))
            out[role] = {g.value: by_grade.get(GRADE_INDEX[g.value], 0) for g in RiskGrade}
        return out


def assign_roles(assignments: Iterable[dict[str, Any]], params: TrainParams) -> Roles:
    """Carve validation out of the train split by patient; apply the small-run cap by patient
    too (a deterministic draw), so capped runs see whole patients."""
    rows = [r for r in assignments if r["split"] == TRAIN]
    if not rows:
        raise SkinriskError("the split has no training images: run `skinrisk split` on a "
                            "dataset with at least one batch from a training source")
    salt = f"validation:{params.seed}"
    patients = sorted({r["patient"] for r in rows}, key=lambda p: _draw(p, salt))
    if params.max_images is not None:
        patients = _cap(patients, rows, params.max_images)
    kept = set(patients)
    n_val = max(1, round(len(patients) * params.validation_fraction))
    if len(patients) < 2:
        raise SkinriskError("training needs at least two patients (one for validation)")
    validation = set(patients[:n_val])
    of = {r["image_id"]: (VALIDATION if r["patient"] in validation else FIT)
          for r in rows if r["patient"] in kept}
    grades = {r["image_id"]: GRADE_INDEX[r["grade"]] for r in rows if r["image_id"] in of}
    return Roles(of, grades)


def _cap(patients: list[str], rows: list[dict[str, Any]], max_images: int) -> list[str]:
    per_patient = Counter(r["patient"] for r in rows)
    kept, total = [], 0
    for patient in patients:
        if total >= max_images:
            break
        kept.append(patient)
        total += per_patient[patient]
    return kept


def class_weights(roles: Roles, mode: str) -> dict[int, float] | None:
    """'balanced': n / (k * n_k) over the grades present in the fitted images."""
    if mode == "none":
        return None
    counts = Counter(roles.grades[i] for i in roles.ids(FIT))
    n, k = sum(counts.values()), len(counts)
    return {grade: n / (k * counts[grade]) if counts.get(grade) else 1.0
            for grade in range(len(GRADE_INDEX))}


def phase(params: TrainParams, epoch: int) -> str:
    """'warmup' (base frozen) or 'fine_tune' (everything trains)."""
    return "warmup" if epoch < params.warmup_epochs else "fine_tune"


def base_rate(params: TrainParams, epoch: int) -> float:
    if params.warmup_epochs and phase(params, epoch) == "fine_tune":
        return params.fine_tune_learning_rate
    return params.learning_rate


def scheduled_rate(params: TrainParams, epoch: int, plateau_scale: float = 1.0) -> float:
    """The learning rate of ``epoch`` (0-based): cosine decays over each phase's epochs."""
    rate = base_rate(params, epoch)
    if params.lr_schedule == "cosine":
        start, end = ((0, params.warmup_epochs) if phase(params, epoch) == "warmup"
                      else (params.warmup_epochs, params.epochs))
        progress = (epoch - start) / max(1, end - start)
        return rate * 0.5 * (1 + math.cos(math.pi * progress))
    if params.lr_schedule == "plateau":
        return rate * plateau_scale
    return rate


@dataclass(frozen=True)
class Progress:
    """Everything the loop carries between epochs; saved with each checkpoint."""

    next_epoch: int = 0
    best_auc: float = -1.0
    best_epoch: int = -1
    since_best: int = 0
    plateau_scale: float = 1.0
    stopped_early: bool = False


def after_epoch(progress: Progress, params: TrainParams, epoch: int, val_auc: float
                ) -> tuple[Progress, bool]:
    """(new progress, whether this epoch is the best so far). NaN AUC never counts as best."""
    improved = not math.isnan(val_auc) and val_auc > progress.best_auc
    since = 0 if improved else progress.since_best + 1
    scale = progress.plateau_scale
    if params.lr_schedule == "plateau" and since and since % params.plateau_patience == 0:
        scale *= params.plateau_factor
    if phase(params, epoch + 1) != phase(params, epoch):
        scale, since = 1.0, 0  # a new phase starts its own patience and schedule
    stop = bool(params.early_stopping_patience) and since >= params.early_stopping_patience
    return replace(progress, next_epoch=epoch + 1,
                   best_auc=val_auc if improved else progress.best_auc,
                   best_epoch=epoch if improved else progress.best_epoch,
                   since_best=since, plateau_scale=scale, stopped_early=stop), improved

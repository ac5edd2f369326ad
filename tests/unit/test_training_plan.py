"""The training plan: validation carved by patient, the small-run cap, weights, schedules."""

from __future__ import annotations

import math

import pytest

from skinrisk.config import TrainParams
from skinrisk.training.plan import (
    FIT,
    VALIDATION,
    Progress,
    after_epoch,
    assign_roles,
    class_weights,
    scheduled_rate,
)


def rows(patients: int = 40, per_patient: int = 3) -> list[dict]:
    grades = ("low-risk", "high-risk", "dangerous")
    out = []
    for p in range(patients):
        for k in range(per_patient):
            out.append({"image_id": f"img{p:03d}{k}", "patient": f"pt{p:03d}",
                        "grade": grades[(p + k) % 3] if p % 4 else "low-risk", "split": "train"})
    out.append({"image_id": "held", "patient": "ptX", "grade": "dangerous", "split": "heldout"})
    return out


def test_validation_is_carved_out_by_patient_and_test_images_are_never_used() -> None:
    roles = assign_roles(rows(), TrainParams(validation_fraction=0.2))
    patient_of = {r["image_id"]: r["patient"] for r in rows()}
    fit = {patient_of[i] for i in roles.ids(FIT)}
    validation = {patient_of[i] for i in roles.ids(VALIDATION)}
    assert not fit & validation
    assert len(validation) == 8 and len(fit) == 32
    assert "held" not in roles.of
    # Deterministic: the same seed gives the same carve-out; another seed, another.
    assert assign_roles(rows(), TrainParams(validation_fraction=0.2)).of == roles.of
    assert assign_roles(rows(), TrainParams(validation_fraction=0.2, seed=1)).of != roles.of


def test_the_small_run_cap_keeps_whole_patients() -> None:
    roles = assign_roles(rows(), TrainParams(max_images=30))
    assert 30 <= len(roles.of) <= 32  # whole patients of 3 images: stops at the first >= 30
    per_patient: dict[str, int] = {}
    for image_id in roles.of:
        per_patient[image_id[:6]] = per_patient.get(image_id[:6], 0) + 1
    assert set(per_patient.values()) == {3}


def test_balanced_class_weights_are_inverse_to_frequency() -> None:
    roles = assign_roles(rows(), TrainParams())
    weights = class_weights(roles, "balanced")
    counts = roles.counts()[FIT]
    n = sum(counts.values())
    assert weights is not None
    for k, grade in enumerate(("low-risk", "high-risk", "dangerous")):
        assert weights[k] == pytest.approx(n / (3 * counts[grade]))
    assert class_weights(roles, "none") is None


def test_learning_rate_schedules_and_the_warmup_phase() -> None:
    paper = TrainParams()
    assert {scheduled_rate(paper, e) for e in range(100)} == {0.001}
    warm = TrainParams(epochs=10, warmup_epochs=2, lr_schedule="cosine",
                       fine_tune_learning_rate=1e-4)
    assert scheduled_rate(warm, 0) == pytest.approx(0.001)
    assert scheduled_rate(warm, 2) == pytest.approx(1e-4)  # fine-tuning starts at its rate
    assert scheduled_rate(warm, 6) == pytest.approx(1e-4 * 0.5 * (1 + math.cos(math.pi / 2)))
    assert scheduled_rate(TrainParams(lr_schedule="plateau"), 5, 0.25) == pytest.approx(0.00025)


def test_early_stopping_counts_epochs_without_a_better_validation_auc() -> None:
    params = TrainParams(early_stopping_patience=2, lr_schedule="plateau", plateau_patience=1)
    progress = Progress()
    progress, best = after_epoch(progress, params, 0, 0.7)
    assert best and progress.best_epoch == 0
    progress, best = after_epoch(progress, params, 1, float("nan"))  # NaN is never the best
    assert not best and progress.plateau_scale == 0.5 and not progress.stopped_early
    progress, best = after_epoch(progress, params, 2, 0.69)
    assert not best and progress.stopped_early and progress.best_auc == 0.7
    assert progress.next_epoch == 3
    off = TrainParams(early_stopping_patience=0)
    p = Progress()
    for epoch in range(20):
        p, _ = after_epoch(p, off, epoch, 0.5)
    assert not p.stopped_early


def test_no_training_images_is_a_clear_error() -> None:
    from skinrisk.errors import SkinriskError

    with pytest.raises(SkinriskError, match="no training images"):
        assign_roles([r for r in rows() if r["split"] != "train"], TrainParams())


def test_a_checkpoints_state_is_strict_json_even_when_an_auc_is_nan(tmp_path) -> None:
    import json
    import math

    from skinrisk.training import loop
    from skinrisk.training.plan import Progress

    class Model:  # what _checkpoint needs of a Keras model: save()
        def save(self, path) -> None:
            path.write_bytes(b"weights")

    history = [{"epoch": 0, "loss": 1.5, "val_macro_auc": math.nan}]
    loop._checkpoint(Model(), tmp_path, Progress(next_epoch=1), history)

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    state = json.loads((tmp_path / loop.STATE).read_text(), parse_constant=refuse)
    assert state["history"][0]["val_macro_auc"] is None
    again = loop._load_state(tmp_path)
    assert math.isnan(again["history"][0]["val_macro_auc"]) and again["history"][0]["loss"] == 1.5

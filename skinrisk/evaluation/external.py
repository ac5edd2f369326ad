"""An external evaluation: any registered model graded on ingested batches it never trained on.

Which images count: the quality-accepted (curated) images of the named batches. They passed the
filter the model's own training and test images passed (the paper's: dye, small sites, hair,
exudate; and blur, resolution, conflicting labels), and quality quarantines a near-copy of an
earlier batch's photo, so a near-duplicate of a training image is not graded either. The TFDV
verdict is not asked: drift is what an external cohort is there to show, and a batch that
validation kept out of the training data is still a fair test of a model.

Refused before a single image is predicted: a batch not ingested, or not judged by quality yet; a
cohort without an accepted image; any image the model was fitted or validated on (its training
run's recorded image lists). A model whose run recorded no lists is refused too: nothing would
show the images are unseen. Images of the taxonomy are graded like a test set (per-grade and
macro AUC with patient-level bootstrap intervals, accuracy, Youden points, slices); the
out-of-distribution types (hemangioma, syringoma) give the OOD accuracy, the share graded
low-risk, as in the paper.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from skinrisk.digest import canonical_sha256
from skinrisk.errors import SkinriskError
from skinrisk.evaluation.predict import slice_values
from skinrisk.evaluation.report import Predictions
from skinrisk.metrics import GRADES
from skinrisk.splitting.assign import OOD, OOD_FLAG
from skinrisk.taxonomy import RiskGrade

EXTERNAL = "external"  # the set name: metrics are external_macro_auc, external_auc_<grade>...
TRAINED_ROLES = ("fit", "validation")  # the lists `skinrisk train` records (data/images.json)


@dataclass(frozen=True)
class Cohort:
    """The images an external evaluation grades: curated rows of its batches, by image id."""

    batches: tuple[str, ...]
    rows: tuple[dict[str, Any], ...]

    @property
    def image_ids(self) -> list[str]:
        return [r["image_id"] for r in self.rows]

    @property
    def digest(self) -> str:
        return images_digest(self.image_ids)


def images_digest(image_ids: Iterable[str]) -> str:
    """sha256 of the sorted image ids: the same images give the same digest, in any order."""
    return canonical_sha256(sorted(image_ids))


def select_cohort(batches: Sequence[str], ingested: Iterable[str], judged: Iterable[str],
                  curated: Iterable[Mapping[str, Any]]) -> Cohort:
    """The curated rows of ``batches``; ``judged``: the batches quality has a verdict on."""
    wanted = tuple(dict.fromkeys(batches))
    if not wanted:
        raise SkinriskError("no batch to grade on: give --batch ID (repeatable)")
    missing = [b for b in wanted if b not in set(ingested)]
    if missing:
        raise SkinriskError(f"batch(es) {', '.join(missing)} not in the raw zone: ingest them "
                            "first (`skinrisk ingest --batch ID`), or check the id")
    unjudged = [b for b in wanted if b not in set(judged)]
    if unjudged:
        raise SkinriskError(f"batch(es) {', '.join(unjudged)} ingested but not judged by "
                            "quality yet: run `skinrisk quality`")
    rows = sorted((dict(r) for r in curated if r["batch_id"] in wanted),
                  key=lambda r: r["image_id"])
    if not rows:
        raise SkinriskError(f"batch(es) {', '.join(wanted)} have no quality-accepted image: "
                            "nothing to grade")
    return Cohort(wanted, tuple(rows))


def trained_images(lists: Mapping[str, Sequence[str]] | None, model: str) -> set[str]:
    """Every image the model was fitted or validated on, from its run's recorded lists."""
    if not lists or not any(lists.get(role) for role in TRAINED_ROLES):
        raise SkinriskError(f"{model}: its training run recorded no fitted/validated image "
                            "lists (data/images.json), so nothing shows the batches are "
                            "unseen; grade a model trained by `skinrisk train`")
    return {i for role in TRAINED_ROLES for i in lists.get(role, [])}


def check_unseen(cohort: Cohort, trained: set[str], model: str) -> None:
    """Refuse a cohort holding any image the model trained on, naming how many and where."""
    overlap = Counter(r["batch_id"] for r in cohort.rows if r["image_id"] in trained)
    if overlap:
        where = ", ".join(f"{b} ({n})" for b, n in sorted(overlap.items()))
        raise SkinriskError(
            f"refused: {sum(overlap.values())} of the {len(cohort.rows)} images are among "
            f"those {model} was fitted or validated on, in batch(es) {where}; grade it on "
            "batches it never trained on")


def shared_patients(cohort: Cohort, trained: set[str], patient_of: Mapping[str, str]) -> int:
    """Cohort patients who also have a training image: not refused (a returning patient's new
    lesion is a fair test), but reported, since their photos are not independent."""
    in_training = {patient_of[i] for i in trained if i in patient_of}
    return len({r["patient"] for r in cohort.rows} & in_training)


def pack_settings(recorded: Mapping[str, Any] | None, default_size: int,
                  default_quality: int) -> tuple[int, int]:
    """(size, JPEG quality) the model's own test images were packed at (its run's params), so
    the cohort reaches it as they did; the current params for a run that recorded none."""
    pack = (recorded or {}).get("pack") or {}
    return (int(pack.get("image_size", default_size)),
            int(pack.get("jpeg_quality", default_quality)))


def predict_cohort(model: Any, cohort: Cohort, read: Callable[[dict[str, Any]], bytes],
                   pack: tuple[int, int], image_size: int, scratch: Path
                   ) -> dict[str, Predictions]:
    """{external, ood}: Predictions through pack's resize and evaluate's decoding (shards in
    ``scratch``), the same code path the model's own test sets took."""
    from skinrisk.packing.shards import write_group
    from skinrisk.training.data import evaluation_dataset, shard_files
    from skinrisk.training.loop import predict

    out = {}
    for name, members in _by_set(cohort.rows).items():
        if members:
            write_group(scratch, EXTERNAL, name, members, read, *pack)
            probabilities, _, ids = predict(model, evaluation_dataset(
                shard_files(scratch, name), image_size, batch_size=32))
        else:
            probabilities, ids = np.zeros((0, len(GRADES))), []
        out[name] = _predictions(ids, probabilities, {r["image_id"]: r for r in members})
    return out


def _by_set(rows: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    sets: dict[str, list[dict[str, Any]]] = {EXTERNAL: [], OOD: []}
    for row in rows:
        ood = OOD_FLAG in (row.get("flags") or "").split(";")
        sets[OOD if ood else EXTERNAL].append(row)
    return sets


def _predictions(ids: list[str], probabilities: np.ndarray,
                 rows: Mapping[str, Mapping[str, Any]]) -> Predictions:
    chosen = [rows[i] for i in ids]
    values = [slice_values(r, r.get("body_site")) for r in chosen]
    return Predictions(
        list(ids), probabilities,
        np.asarray([RiskGrade(r["grade"]).index for r in chosen], dtype=np.int64),
        np.asarray([r["patient"] for r in chosen], dtype=object),
        {k: np.asarray([v[k] for v in values], dtype=object)
         for k in ("skin_type", "source", "body_site")})


def headline(report: Mapping[str, Any]) -> dict[str, Any]:
    """The figures the ledger keeps: n, macro AUC with its interval, per-grade AUC, accuracy,
    OOD accuracy (the rest is in the report, whose sha256 the ledger also keeps)."""
    figures = report["sets"].get(EXTERNAL) or {}
    ood = report.get("ood") or {}
    return {"n": figures.get("n", 0), "macro_auc": figures.get("macro_auc"),
            "macro_auc_ci": figures.get("macro_auc_ci"),
            "accuracy": figures.get("accuracy"),
            **{f"auc_{g}": (figures.get("grades") or {}).get(g, {}).get("auc") for g in GRADES},
            "ood_n": ood.get("n", 0), "ood_accuracy": ood.get("accuracy")}

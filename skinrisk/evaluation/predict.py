"""Predictions of one model on the test sets, joined to each image's slicing metadata.

Used by `skinrisk evaluate` for the challenger and by `skinrisk promote` for the champion, so
both are graded by the same code on the same images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from skinrisk.catalog import ASSIGNMENTS, CURATED_MANIFEST, SHARDS
from skinrisk.errors import SkinriskError
from skinrisk.evaluation.report import Predictions, skin_type
from skinrisk.splitting.assign import CROSS_ETHNIC, HELDOUT, OOD
from skinrisk.taxonomy import RiskGrade

TEST_SETS = (HELDOUT, CROSS_ETHNIC, OOD)
_GRADE = {g.value: i for i, g in enumerate(RiskGrade)}


def slice_values(row: dict[str, Any], body_site: str | None) -> dict[str, str]:
    return {"skin_type": skin_type(row.get("fitzpatrick")), "source": row["source"],
            "body_site": body_site or "unknown"}


def predict_version(model: Any, workspace: Path, image_size: int) -> dict[str, Predictions]:
    """predict_sets on the data version checked out in ``workspace``: its splits, curated
    manifest (body sites) and shards. Evaluate and promote grade models on exactly this."""
    from skinrisk.storage.tables import read_rows

    assignments = read_rows(workspace / ASSIGNMENTS)
    sites = {r["image_id"]: r.get("body_site") for r in read_rows(workspace / CURATED_MANIFEST)}
    return predict_sets(model, workspace / SHARDS, assignments, sites, image_size)


def predict_sets(model: Any, shards: Path, assignments: list[dict[str, Any]],
                 body_sites: dict[str, str | None], image_size: int, batch_size: int = 32
                 ) -> dict[str, Predictions]:
    """{set name: Predictions} for every test set; a set without shards is empty."""
    from skinrisk.training.data import evaluation_dataset, shard_files
    from skinrisk.training.loop import predict

    by_id = {r["image_id"]: r for r in assignments}
    out = {}
    for name in TEST_SETS:
        files = shard_files(shards, name)
        members = [r["image_id"] for r in assignments if r["split"] == name]
        if files and members:
            probabilities, truth, ids = predict(model, evaluation_dataset(
                files, image_size, batch_size, keep=members))
        else:
            probabilities, truth, ids = np.zeros((0, len(_GRADE))), np.zeros(0, int), []
        rows = [by_id[i] for i in ids]
        values = [slice_values(r, body_sites.get(i)) for i, r in zip(ids, rows, strict=True)]
        out[name] = Predictions(
            ids, probabilities, np.asarray(truth, dtype=np.int64),
            np.asarray([r["patient"] for r in rows], dtype=object),
            {k: np.asarray([v[k] for v in values], dtype=object)
             for k in ("skin_type", "source", "body_site")})
        if sorted(ids) != sorted(members):
            raise SkinriskError(f"{name}: the shards hold {len(ids)} of the split's "
                                 f"{len(members)} images; rerun `skinrisk pack`")
        _check_truth(out[name], by_id)
    return out


def _check_truth(p: Predictions, by_id: dict[str, dict[str, Any]]) -> None:
    """The shards' grade labels are the split table's (a stale shard would mislabel)."""
    for image_id, grade in zip(p.image_ids, p.truth, strict=True):
        if _GRADE[by_id[image_id]["grade"]] != grade:
            raise SkinriskError(f"image {image_id}: shard grade {grade} differs from the split "
                                 "table's; rerun `skinrisk pack`")

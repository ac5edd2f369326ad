"""The quality stage over the whole dataset: score new images, decide, write the curated set.

Scores are cached by image_id (cache/quality_scores.parquet), so a rerun on a grown dataset
decodes only the new images; decisions are recomputed from the cache every run, so a changed
threshold applies to every image without decoding anything again.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from skinrisk.config import QualityParams
from skinrisk.ingest.records import ImageRecord
from skinrisk.quality.checks import score_image
from skinrisk.quality.decide import judge
from skinrisk.quality.decode import load_working_image
from skinrisk.quality.neardup import group_near_duplicates
from skinrisk.quality.records import QualityQuarantineRecord, ScoreRecord
from skinrisk.reasons import Reason
from skinrisk.storage.rawzone import IMAGES_TABLE, RawZone
from skinrisk.storage.tables import flat, joined_schema, read_rows, write_rows, write_table

log = logging.getLogger(__name__)
SCORES = "quality_scores.parquet"
MANIFEST = "manifest.parquet"
QUARANTINE = "quality_quarantine.parquet"


@dataclass
class QualityOutcome:
    images_in: int
    scored_now: int
    accepted: list[dict[str, Any]]
    quarantined: list[QualityQuarantineRecord]
    by_reason: dict[str, int]


def dataset_images(raw: RawZone) -> list[dict[str, Any]]:
    """Every accepted image of every committed batch, in ingest order (the order near-duplicate
    groups are headed by)."""
    rows: list[dict[str, Any]] = []
    for batch_id in raw.batches_in_ingest_order():
        rows += read_rows(raw.batch_dir(batch_id) / IMAGES_TABLE)
    return rows


def score_bytes(image_id: str, data: bytes) -> ScoreRecord:
    try:
        scores = score_image(load_working_image(data))
    except (OSError, ValueError, SyntaxError) as exc:  # Pillow's ways of saying "undecodable"
        return ScoreRecord(image_id, False, str(exc)[:200], 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                           0, 0)
    return ScoreRecord(image_id, True, None, **asdict(scores))


def load_scores(cache: Path) -> dict[str, ScoreRecord]:
    path = cache / SCORES
    if not path.is_file():
        return {}
    return {row["image_id"]: ScoreRecord(**row) for row in read_rows(path)}


def run_quality(raw: RawZone, images: list[dict[str, Any]], cache: Path, curated: Path,
                params: QualityParams, advance: Callable[[], None] = lambda: None
                ) -> QualityOutcome:
    """``images``: dataset_images(raw), read once by the caller."""
    scores = load_scores(cache)
    new = [r for r in images if r["image_id"] not in scores]
    for row in new:
        data = raw.image_path(row["batch_id"], row["image_id"], row["format"]).read_bytes()
        scores[row["image_id"]] = score_bytes(row["image_id"], data)
        advance()
    if new:
        write_table(cache / SCORES, list(scores.values()), ScoreRecord)
    groups = group_near_duplicates([(r["image_id"], scores[r["image_id"]].phash) for r in images
                                    if scores[r["image_id"]].decodable],
                                   params.near_duplicate_distance)
    accepted, quarantined = [], []
    kept_groups: set[str] = set()  # groups that already have an image in the curated set
    for row in images:
        score = scores[row["image_id"]]
        failed = judge(score, row["width"], row["height"], params)
        dup = groups.get(row["image_id"])
        group = dup.group if dup else row["image_id"]
        # The first photo of a group that passes every check stays; later ones are repeats.
        repeat = not failed and group in kept_groups
        if repeat:
            failed.append((Reason.NEAR_DUPLICATE, f"near-identical to an image of group {group}"))
        if failed:
            quarantined.append(QualityQuarantineRecord(
                row["image_id"], row["batch_id"], ";".join(r.value for r, _ in failed),
                "; ".join(d for _, d in failed), group if repeat else None, group))
        else:
            kept_groups.add(group)
            accepted.append({**row, **flat(score), "dup_group": group})
    if len(accepted) + len(quarantined) != len(images):
        raise AssertionError("quality: accepted + quarantined != images in")
    write_rows(curated / MANIFEST, accepted,
               joined_schema(ImageRecord, ScoreRecord, extra={"dup_group": str}))
    write_table(curated / QUARANTINE, quarantined, QualityQuarantineRecord)
    by_reason = Counter(r for q in quarantined for r in q.reasons.split(";"))
    return QualityOutcome(len(images), len(new), accepted, quarantined,
                          dict(sorted(by_reason.items())))

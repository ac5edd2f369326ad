"""The quality stage over the whole dataset: score new images, decide, write the curated set.

Nothing already computed is computed again, and the per-run work over the whole dataset is
column-wise (Arrow/NumPy), so adding 100 photos to 10,000 costs about what adding them to 100
does (BENCHMARKS.md, "incremental"). Three caches under cache/, each checked before use:

- quality_scores.parquet: the checks' scores, by image_id (decoded once per image ever);
- quality_judged.parquet: the verdict of the thresholds on each image's scores, valid while
  the thresholds are unchanged (their digest is stored with it; a change re-judges every image
  from the cached scores, still without decoding);
- near_duplicates.npz: the near-duplicate groups of the dataset as of the last run, reused
  when that dataset is a prefix of today's (batches only ever append) at the same distance.

The curated set is a function of the dataset, the thresholds and a reviewer's overrides only:
with or without the caches, the same bytes are written (tests/integration/test_quality_validate.py
and test_quality_human_review.py).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from skinrisk.catalog import CURATED_MANIFEST, QUALITY_QUARANTINE, RAW_IMAGES
from skinrisk.config import QualityParams
from skinrisk.localfs import atomic_write
from skinrisk.quality.checks import score_image
from skinrisk.quality.curate import curate
from skinrisk.quality.decide import Acted, Expectations, act_many, judge
from skinrisk.quality.decode import load_working_image
from skinrisk.quality.neardup import RULE, link
from skinrisk.quality.overrides import Override
from skinrisk.quality.records import QualityQuarantineRecord, ScoreRecord
from skinrisk.reasons import Reason
from skinrisk.storage.rawrecords import ImageRecord
from skinrisk.storage.rawzone import RawZone
from skinrisk.storage.tables import joined_schema, records_table, schema_of, write_arrow

if TYPE_CHECKING:
    import pyarrow as pa

# pyarrow is imported inside the functions: the ml environment has it, and `skinrisk`'s commands
# must import in the orchestrator environment too (pipelines.cli imports every stage).

SCORES = "quality_scores.parquet"
JUDGED = "quality_judged.parquet"
NEAR_DUPLICATES = "near_duplicates.npz"
_THRESHOLDS_KEY = b"skinrisk.thresholds_sha256"
_CHECKS_KEY = b"skinrisk.checks_version"
_SCORING_CODE = ("checks.py", "planes.py", "hair.py", "exudate.py", "faces.py", "modality.py",
                 "appearance.py", "decode.py", "records.py")
# Beside each image's own and score columns: its near-duplicate group, the checks it is kept
# with (QualityParams.actions: flag or inpaint) with their details, and whether pack paints
# its ink out. (`flags` is taken: ImageRecord's diagnosis flags, e.g. out-of-distribution.)
MANIFEST_EXTRA = {"dup_group": str, "quality_flags": str, "quality_flag_detail": str,
                  "inpaint": bool}


@dataclass
class QualityOutcome:
    images_in: int
    scored_now: int
    accepted: int
    quarantined: pa.Table  # QualityQuarantineRecord rows, in dataset order
    by_reason: dict[str, int]
    scores: pa.Table | None = None  # ScoreRecord rows aligned with the images (review pages)
    # Each override applied, with what the filter alone decided (the ledger records them).
    overridden: list[tuple[Override, str]] = field(default_factory=list)
    # Kept images with checks whose action is flag or inpaint (image_id, quality_flags,
    # quality_flag_detail, dup_group), and their counts per check.
    flagged: pa.Table | None = None
    by_flag: dict[str, int] = field(default_factory=dict)
    # Per overridden image, the checks the filter kept it flagged with (before the override).
    override_flags: dict[str, str] = field(default_factory=dict)


def dataset_images(raw: RawZone) -> pa.Table:
    """Every accepted image of every committed batch, in ingest order (the order near-duplicate
    groups are headed by)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = [pq.read_table(raw.batch_dir(b) / RAW_IMAGES)
              for b in raw.batches_in_ingest_order()]
    schema = schema_of(ImageRecord)
    return pa.concat_tables([t.cast(schema) for t in tables]) if tables else schema.empty_table()


def score_bytes(image_id: str, data: bytes) -> ScoreRecord:
    try:
        scores = score_image(load_working_image(data))
    except (OSError, ValueError, SyntaxError) as exc:  # Pillow's ways of saying "undecodable"
        return ScoreRecord(image_id, False, str(exc)[:200], 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                           0, 0)
    return ScoreRecord(image_id, True, None, **asdict(scores))


def run_quality(raw: RawZone, images: pa.Table, cache: Path, workspace: Path,
                params: QualityParams, advance: Callable[[], None] = lambda: None,
                overrides: Sequence[Override] = (), expect: Expectations | None = None
                ) -> QualityOutcome:
    """``images``: dataset_images(raw), read once by the caller; ``overrides``: a reviewer's
    decisions (skinrisk/quality/overrides.py), standing over the filter's; ``expect``: the
    other sections' rules (resolution floor, declared modalities) from the quality command."""
    import pyarrow as pa
    import pyarrow.compute as pc

    scores, scored_now = _scores(raw, images, cache, advance)
    reasons, details = _judged(images, scores, cache, params,
                               expect or Expectations(params.min_side_px))
    acted = _acted(reasons, details, params)
    # A reviewer's accept stands over the flags too: the image stays unflagged and unpainted.
    override_flags = {}
    at = pc.index_in(pa.array([o.image_id for o in overrides], pa.string()),
                     value_set=images["image_id"]).to_pylist()
    for override, k in zip(overrides, at, strict=True):
        if k is not None:
            override_flags[override.image_id] = acted[k].flags
            if override.decision == "accept":
                acted[k] = Acted(acted[k].rejects, acted[k].reject_detail, "", "", False)
    groups = _groups(images, scores, cache, params.near_duplicate_distance)
    rejects = np.array([a.rejects for a in acted], dtype=object)
    reject_details = np.array([a.reject_detail for a in acted], dtype=object)
    image_ids, groups_, grades, types = (column.to_numpy() for column in (
        images["image_id"], groups, images["grade"], images["tumor_type"]))
    flag_counts = np.array([len(a.flags.split(";")) if a.flags else 0 for a in acted])
    decided = curate(image_ids, rejects, reject_details, groups_, grades, types, overrides,
                     flag_counts)
    manifest = _manifest(images, scores, groups, acted, pa.array(decided.kept))
    quarantine = _quarantine(images, groups, pa.array(decided.reasons, pa.string()),
                             pa.array(decided.details, pa.string()), pa.array(decided.repeat),
                             pa.array(~decided.kept))
    if manifest.num_rows + quarantine.num_rows != images.num_rows:
        raise AssertionError("quality: accepted + quarantined != images in")
    write_arrow(workspace / CURATED_MANIFEST, manifest)
    write_arrow(workspace / QUALITY_QUARANTINE, quarantine)
    codes = pc.value_counts(pc.list_flatten(pc.split_pattern(quarantine["reasons"], ";")))
    by_reason = {c["values"]: c["counts"] for c in codes.to_pylist()}
    flagged = manifest.filter(pc.not_equal(manifest["quality_flags"], ""))
    flags = pc.value_counts(pc.list_flatten(pc.split_pattern(flagged["quality_flags"], ";")))
    by_flag = {c["values"]: c["counts"] for c in flags.to_pylist()}
    return QualityOutcome(images.num_rows, scored_now, manifest.num_rows, quarantine,
                          dict(sorted(by_reason.items())), scores, decided.applied,
                          flagged.select(["image_id", "quality_flags", "quality_flag_detail",
                                          "dup_group"]),
                          dict(sorted(by_flag.items())), override_flags)


_PASSED = Acted("", "", "", "", False)


def _acted(reasons: pa.ChunkedArray, details: pa.ChunkedArray, params: QualityParams
           ) -> list[Acted]:
    """Per image, its verdict split by quality.actions; only failed images are looked at (this
    runs over the whole dataset on every run)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    acted = [_PASSED] * len(reasons)
    # Typed indices from numpy: take() of an empty Python list is a null-typed array no kernel
    # accepts (every image passed), and pyarrow's indices_nonzero segfaults on an empty column
    # (a batch where every file was unreadable).
    failed = pa.array(np.flatnonzero(pc.not_equal(reasons, "").to_numpy()),
                      pa.int64())
    for k, one in zip(failed.to_pylist(), act_many(reasons.take(failed).to_pylist(),
                                                   details.take(failed).to_pylist(),
                                                   params.actions), strict=True):
        acted[k] = one
    return acted


def _scores(raw: RawZone, images: pa.Table, cache: Path, advance: Callable[[], None]
            ) -> tuple[pa.Table, int]:
    """The cached scores, new images scored and added; returned row-aligned with ``images``."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    schema = schema_of(ScoreRecord).with_metadata({_CHECKS_KEY: checks_version().encode()})
    path = cache / SCORES
    cached = pq.read_table(path) if path.is_file() else schema.empty_table()
    # Scored before a check was added, or by other code: score every image again.
    if cached.schema.names != schema.names or (cached.schema.metadata or {}).get(
            _CHECKS_KEY) != schema.metadata[_CHECKS_KEY]:
        cached = schema.empty_table()
    cached = cached.cast(schema)
    new = images.filter(pc.invert(pc.is_in(images["image_id"], value_set=cached["image_id"])))
    fresh = []
    for row in new.select(["batch_id", "image_id", "format"]).to_pylist():
        data = raw.image_path(row["batch_id"], row["image_id"], row["format"]).read_bytes()
        fresh.append(score_bytes(row["image_id"], data))
        advance()
    if fresh:
        added = records_table(fresh, ScoreRecord).cast(schema)
        cached = pa.concat_tables([cached, added])
        write_arrow(path, cached)
    return _aligned(cached, images), len(fresh)


def _aligned(table: pa.Table, images: pa.Table) -> pa.Table:
    import pyarrow.compute as pc

    return table.take(pc.index_in(images["image_id"], value_set=table["image_id"]))


@functools.cache
def checks_version() -> str:
    """The code the scores come from (the checks, the working copy, and the versions of the
    libraries that compute them): a change re-scores every image, so no cached score is one
    the current code would not compute."""
    import cv2
    import PIL

    digest = hashlib.sha256(f"{cv2.__version__} {PIL.__version__}".encode())
    here = Path(__file__).resolve().parent
    for name in _SCORING_CODE:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:16]


def _thresholds_digest(params: QualityParams, expect: Expectations) -> str:
    # Actions are applied after the verdict cache: changing one never re-judges. Verdicts
    # follow the scores, so the scoring code's version is part of the key.
    thresholds = params.model_dump(exclude={"near_duplicate_distance", "overrides_path",
                                            "actions"})
    thresholds["expect"] = [expect.min_side_px, sorted(expect.non_clinical_sources)]
    thresholds["checks_version"] = checks_version()
    return hashlib.sha256(json.dumps(thresholds, sort_keys=True).encode()).hexdigest()


def _judged(images: pa.Table, scores: pa.Table, cache: Path, params: QualityParams,
            expect: Expectations) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    """Per image (aligned with ``images``): the failed checks' codes (";"-joined, "" = passed)
    and their details, judged once per image for the current thresholds."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    schema = pa.schema([("image_id", pa.string()), ("reasons", pa.string()),
                        ("detail", pa.string())],
                       metadata={_THRESHOLDS_KEY: _thresholds_digest(params, expect).encode()})
    path = cache / JUDGED
    cached = pq.read_table(path) if path.is_file() else schema.empty_table()
    if (cached.schema.metadata or {}).get(_THRESHOLDS_KEY) != schema.metadata[_THRESHOLDS_KEY]:
        cached = schema.empty_table()  # thresholds changed: every image is judged again
    todo = pc.invert(pc.is_in(images["image_id"], value_set=cached["image_id"]))
    rows = images.select(["image_id", "width", "height", "source"]).filter(todo).to_pylist()
    if rows:
        verdicts = [judge(ScoreRecord(**s), r["width"], r["height"], params,
                          min_side_px=expect.min_side_px, clinical=expect.clinical(r["source"]))
                    for r, s in zip(rows, scores.filter(todo).to_pylist(), strict=True)]
        added = pa.Table.from_pydict({
            "image_id": [r["image_id"] for r in rows],
            "reasons": [";".join(reason.value for reason, _ in v) for v in verdicts],
            "detail": ["; ".join(detail for _, detail in v) for v in verdicts]}, schema=schema)
        cached = pa.concat_tables([cached.cast(schema), added])
        write_arrow(path, cached)
    aligned = _aligned(cached, images)
    return aligned["reasons"], aligned["detail"]


def _groups(images: pa.Table, scores: pa.Table, cache: Path, distance: int) -> pa.ChunkedArray:
    """Each image's near-duplicate group (its earliest member's id); an undecodable image is a
    group of its own."""
    import pyarrow as pa

    decodable = scores["decodable"].to_numpy()
    positions = np.flatnonzero(decodable)
    hashes = scores["phash"].to_numpy()[positions].astype(np.int64)
    heads = link(hashes, _earlier_heads(cache, distance, hashes), distance)
    _save_heads(cache, distance, hashes, heads)
    head_of = np.arange(images.num_rows)
    head_of[positions] = positions[heads]
    return images["image_id"].take(pa.array(head_of))


def _earlier_heads(cache: Path, distance: int, hashes: np.ndarray) -> np.ndarray:
    """The last run's group heads when its hashes are a prefix of this run's (batches only
    append), at the same distance and grouping rule; else none. Heads are positions and
    depend on nothing but the hashes, the distance and the rule, so that check is the whole
    validity condition."""
    path = cache / NEAR_DUPLICATES
    if path.is_file():
        with np.load(path) as saved:
            count = len(saved["heads"])
            if ("rule" in saved.files and str(saved["rule"]) == RULE
                    and int(saved["distance"]) == distance and count <= len(hashes)
                    and np.array_equal(saved["hashes"], hashes[:count])):
                return saved["heads"]
    return np.empty(0, np.int64)


def _save_heads(cache: Path, distance: int, hashes: np.ndarray, heads: np.ndarray) -> None:
    sink = io.BytesIO()
    np.savez(sink, rule=RULE, distance=distance, hashes=hashes, heads=heads)
    atomic_write(cache / NEAR_DUPLICATES, sink.getvalue())


def _manifest(images: pa.Table, scores: pa.Table, groups: pa.ChunkedArray,
              acted: list[Acted], kept: pa.Array) -> pa.Table:
    import pyarrow as pa

    schema = joined_schema(ImageRecord, ScoreRecord, extra=MANIFEST_EXTRA)
    columns = {**{n: images[n] for n in images.column_names},
               **{n: scores[n] for n in scores.column_names if n not in images.column_names},
               "dup_group": groups,
               "quality_flags": pa.array([a.flags for a in acted], pa.string()),
               "quality_flag_detail": pa.array([a.flag_detail for a in acted], pa.string()),
               "inpaint": pa.array([a.inpaint for a in acted], pa.bool_())}
    return pa.table([columns[f.name] for f in schema], schema=schema).filter(kept)


def _quarantine(images: pa.Table, groups: pa.ChunkedArray, reasons: pa.ChunkedArray,
                details: pa.ChunkedArray, repeat: pa.Array, out: pa.Array) -> pa.Table:
    import pyarrow as pa
    import pyarrow.compute as pc

    near = pa.scalar(Reason.NEAR_DUPLICATE.value)
    repeat_detail = pc.binary_join_element_wise("near-identical to an image of group ", groups,
                                                "")
    schema = schema_of(QualityQuarantineRecord)
    return pa.table([
        images["image_id"], images["batch_id"],
        pc.if_else(repeat, near, reasons), pc.if_else(repeat, repeat_detail, details),
        pc.if_else(repeat, groups, pa.scalar(None, pa.string())), groups,
    ], schema=schema).filter(out)




def dataset_rows(images: pa.Table, image_ids: list[str]) -> dict[str, tuple[str, str]]:
    """image_id -> (batch_id, format), where the raw zone keeps it, for ``image_ids``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    wanted = images.filter(pc.is_in(images["image_id"], value_set=pa.array(image_ids,
                                                                             pa.string())))
    table = wanted.select(["image_id", "batch_id", "format"]).to_pydict()
    return {i: (b, f) for i, b, f in zip(table["image_id"], table["batch_id"], table["format"],
                                         strict=True)}

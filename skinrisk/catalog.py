"""Every file the data stages keep in the workspace, named once.

Paths are relative to the workspace (the data repository's clone, where dvc.yaml runs); a
stage joins them to ``layout.workspace``. dvc.yaml names the same paths as stage outputs, and
tests/unit/test_catalog.py fails when the two disagree. Inside a raw batch's folder the tables
are RAW_IMAGES and RAW_QUARANTINE; the quality stage's caches (outside the workspace) keep their
own names in skinrisk/quality/runner.py.
"""

from __future__ import annotations

RAW = "data/raw"  # ingest: data/raw/<batch>/, each versioned whole by `skinrisk version`
RAW_IMAGES = "images.parquet"  # in a raw batch: one row per accepted image
RAW_QUARANTINE = "quarantine.parquet"  # in a raw batch: one row per refused row or file
RAW_REPORT = "report.json"  # in a raw batch: counts and reasons

CURATED = "data/curated"
CURATED_MANIFEST = f"{CURATED}/manifest.parquet"  # quality: the images kept, with scores
QUALITY_QUARANTINE = f"{CURATED}/quality_quarantine.parquet"  # quality: the images dropped
QUALITY_REPORT = f"{CURATED}/quality_report.json"
CONTACT_SHEETS = f"{CURATED}/contact_sheets"
REVIEW = f"{CURATED}/review"
VALIDATION = f"{CURATED}/validation"  # validate: one TFDV verdict per batch

SPLITS = "data/splits"
ASSIGNMENTS = f"{SPLITS}/assignments.parquet"  # split: image -> train/held-out/cross-ethnic/OOD
SPLIT_SUMMARY = f"{SPLITS}/summary.json"

SHARDS = "data/shards"  # pack: TFRecord shards per (batch, split)
SHARD_INDEX = f"{SHARDS}/index.parquet"

# What each dvc.yaml stage writes: (outputs, metrics), as dvc.yaml declares them.
STAGE_OUTPUTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "ingest": ((), ()),
    "quality": ((CURATED_MANIFEST, QUALITY_QUARANTINE, CONTACT_SHEETS, REVIEW),
                (QUALITY_REPORT,)),
    "validate": ((VALIDATION,), ()),
    "split": ((ASSIGNMENTS,), (SPLIT_SUMMARY,)),
    "pack": ((SHARDS,), ()),
}

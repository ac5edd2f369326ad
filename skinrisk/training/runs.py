"""A training's identity and records: the run key, the finished training's record on the
working prefix, and the model published where evaluation reads it.

The run key hashes the train params, the data version's hashes and the code commit: a killed
worker's rerun finds its checkpoints and its MLflow run under it, and a change to any of the
three starts afresh (pipelines/train.py, the command that trains).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from skinrisk.config import Params
from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout
from skinrisk.localfs import write_json
from skinrisk.tracking import code_version
from skinrisk.training.checkpoint_mirror import trained_mirror
from skinrisk.versioning.current import DataVersion

RUN_FILE = "train.json"
DONE_FILE = "done.json"  # in the run key's checkpoint folder: trained, logged, recorded
LOGGED_FILE = "logged.json"  # the model this run key logged to MLflow
MODEL_FILE = "model.keras"


def run_key(params: Params, version: DataVersion, commit: str) -> str:
    material = json.dumps({"train": params.train.model_dump(mode="json"),
                           "shards": version.shards_md5, "splits": version.splits_md5,
                           "code": commit}, sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()[:16]


class NotTrained(SkinriskError):
    """No finished training of a run key on the working prefix."""


def trained_record(layout: StateLayout, params: Params, version: DataVersion,
                   with_model: bool = True) -> dict[str, Any]:
    """The finished training of (params, data version, code) on the working prefix, for a task
    on a disk the training never saw; ``with_model``: its best model put where `skinrisk
    evaluate` reads it (else only the record is read)."""
    commit = code_version()["code.commit"]
    key = run_key(params, version, commit)
    mirror = trained_mirror(layout.work_url, key) if layout.work_url else None
    record = mirror.record(DONE_FILE) if mirror else None
    if mirror is None or record is None:
        raise NotTrained(
            f"no finished training of run key {key} ({version.tag}, these params, code "
            f"{commit[:12]}) on the working prefix {layout.work_url}: run `skinrisk train` "
            "first with the same params, data version and code")
    if with_model:
        publish_model(layout, mirror.best_model(mirror.folder(layout.checkpoints / key)), record)
    return {k: v for k, v in record.items() if k != "best_model"}


def publish_model(layout: StateLayout, best: Path, record: dict[str, Any]) -> None:
    """The model and its run record where `skinrisk evaluate` reads them."""
    layout.models.mkdir(parents=True, exist_ok=True)
    tmp = layout.models / f"tmp-{MODEL_FILE}"
    tmp.unlink(missing_ok=True)
    try:  # the checkpoint's bytes once on disk: files are replaced, never written in place
        os.link(best, tmp)
    except OSError:  # another file system, or no hard links there
        shutil.copyfile(best, tmp)
    tmp.replace(layout.models / MODEL_FILE)
    tmp.unlink(missing_ok=True)  # a rename onto a link to the same file leaves the source
    published = {k: v for k, v in record.items() if k != "best_model"}
    write_json(layout.models / RUN_FILE, published)

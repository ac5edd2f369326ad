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
from dataclasses import asdict, dataclass, field
from dataclasses import fields as dataclass_fields
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


@dataclass(frozen=True)
class TrainingRecord:
    """A finished training: its MLflow run and logged model, what it trained on, its best
    epoch. Written as JSON (in this field order, the code's keys last) to the run key's
    done.json (with ``best_model``, the checkpoint file) and the workspace's train.json."""

    run_id: str
    model_uri: str
    run_key: str
    data_version: str
    data_commit: str
    shards_md5: str
    splits_md5: str
    image_size: int
    best_epoch: int  # MLflow's step, from 0
    best_val_macro_auc: float | None  # None: not computable (a grade missing in validation)
    resumed_at_epoch: int | None
    code: dict[str, str] = field(default_factory=dict)  # skinrisk.tracking.code_version()

    def to_json(self) -> dict[str, Any]:
        fields = {k: v for k, v in asdict(self).items() if k != "code"}
        return {**fields, **self.code}

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str) -> TrainingRecord:
        """The record in ``data`` (read from ``source``, named in the error if it is not one)."""
        names = [f.name for f in dataclass_fields(cls) if f.name != "code"]
        missing = [name for name in names if name not in data]
        if missing:
            raise SkinriskError(f"{source}: not a training record (no {', '.join(missing)}); "
                                "rerun `skinrisk train`")
        return cls(**{name: data[name] for name in names},
                   code={k: v for k, v in data.items() if k.startswith("code.")})

    @classmethod
    def read(cls, path: Path) -> TrainingRecord:
        return cls.from_json(json.loads(path.read_text()), str(path))


def run_key(params: Params, version: DataVersion, commit: str) -> str:
    material = json.dumps({"train": params.train.model_dump(mode="json"),
                           "shards": version.shards_md5, "splits": version.splits_md5,
                           "code": commit}, sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()[:16]


class NotTrained(SkinriskError):
    """No finished training of a run key on the working prefix."""


def trained_record(layout: StateLayout, params: Params, version: DataVersion,
                   with_model: bool = True) -> TrainingRecord:
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
    trained = TrainingRecord.from_json(record, f"{layout.work_url} (run key {key})")
    if with_model:
        publish_model(layout, mirror.best_model(mirror.folder(layout.checkpoints / key)),
                      trained)
    return trained


def publish_model(layout: StateLayout, best: Path, record: TrainingRecord) -> None:
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
    write_json(layout.models / RUN_FILE, record.to_json())

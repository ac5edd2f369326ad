"""The dataset version the workspace holds now: its tag, commit and DVC hashes.

Training and evaluation record this in MLflow (tags, dataset digests) and refuse to run on data
that is not a committed version: the split table and the shard index in the workspace must be
byte-for-byte the ones the version's dvc.lock names, or no one could trace the model back.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from skinrisk.catalog import ASSIGNMENTS, SHARD_INDEX, SHARDS
from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout
from skinrisk.versioning.remote import tracked_outputs
from skinrisk.versioning.tools import git, run
from skinrisk.versioning.workspace import dvc_object_cache


@dataclass(frozen=True)
class DataVersion:
    tag: str
    commit: str
    hashes: dict[str, str]  # DVC-tracked path -> md5 (".dir" for folders)

    @property
    def splits_md5(self) -> str:
        return self.hashes[ASSIGNMENTS]

    @property
    def shards_md5(self) -> str:
        return self.hashes[SHARDS]


def current_version(layout: StateLayout) -> DataVersion:
    workspace = layout.workspace
    if not (workspace / ".git").exists():
        raise SkinriskError(f"no dataset version yet ({workspace} is not a workspace): run "
                            "the data stages and `skinrisk version` first")
    described = run(["git", "describe", "--tags", "--match", "data-v*", "--abbrev=0", "HEAD"],
                    workspace, check=False)
    if described.returncode != 0:
        raise SkinriskError("the workspace has no data-vN tag: run `skinrisk version` first")
    hashes = {path: md5 for md5, path in tracked_outputs(workspace)}
    missing = [p for p in (ASSIGNMENTS, SHARDS) if p not in hashes]
    if missing:
        raise SkinriskError(f"the dataset version does not track {', '.join(missing)}: run "
                            "`skinrisk pack` and `skinrisk version`")
    version = DataVersion(described.stdout.strip(), git(workspace, "rev-parse", "HEAD"), hashes)
    _check_unchanged(workspace, version)
    return version


def _check_unchanged(workspace: Path, version: DataVersion) -> None:
    """The files training reads are the versioned ones (the split table, the shard index)."""
    actual = hashlib.md5((workspace / ASSIGNMENTS).read_bytes()).hexdigest()
    index_md5 = _dir_member(workspace, version.shards_md5, SHARD_INDEX.rpartition("/")[2])
    index = workspace / SHARD_INDEX
    changed = []
    if actual != version.splits_md5:
        changed.append(ASSIGNMENTS)
    if not index.is_file() or hashlib.md5(index.read_bytes()).hexdigest() != index_md5:
        changed.append(SHARD_INDEX)
    if changed:
        raise SkinriskError(f"{', '.join(changed)} in the workspace differ from {version.tag}: "
                            "run `skinrisk version` so the data a model trains on is a "
                            "committed dataset version")


def _dir_member(workspace: Path, dir_md5: str, relpath: str) -> str | None:
    listing = dvc_object_cache(workspace) / "files" / "md5" / dir_md5[:2] / dir_md5[2:]
    if not listing.is_file():
        return None
    return next((e["md5"] for e in json.loads(listing.read_text())
                 if e["relpath"] == relpath), None)

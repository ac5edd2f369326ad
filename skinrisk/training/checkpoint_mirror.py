"""Training checkpoints mirrored to the working prefix, so a retry on a wiped disk resumes.

With a working prefix set (SKINRISK_WORK_URL: ``s3://bucket/prefix`` or a folder), each epoch's
local checkpoint (skinrisk.training.loop) is copied to the object store, and a training that
starts on a disk without it first copies the newest complete epoch back; the loop then resumes
from it exactly as from its own folder. The store never overwrites nor deletes
(skinrisk.storage.objects), so every key below is written once:

    checkpoints/<run key>/gen-0001/generation.json       claimed when the generation starts
    checkpoints/<run key>/gen-0001/models/<sha256>.keras   a saved model, named by its bytes
    checkpoints/<run key>/gen-0001/epochs/0003.json      after 3 epochs: the loop's state and
                                                          the keys of its model and best model
    checkpoints/<run key>/gen-0001/<name>.json           the train command's records (MLflow
                                                          run link, logged model, done)

Invariants:
- An epoch is complete when epochs/NNNN.json exists. It is written after the models it names,
  so an upload cut short leaves models that nothing names (never read), not a broken epoch.
- Models are named by their SHA-256 and checked against it when read back. A retried epoch
  saves other bytes (Keras stamps the time), so it never collides with a half-uploaded one.
- A generation is one training from epoch 0. `skinrisk train --fresh` claims the next
  generation rather than deleting anything: earlier generations stay as they were, and a
  retry without --fresh continues the newest one. The local folder is per generation too,
  so a disk that still holds an older generation never passes for the current one.
- The local folder wins when it is as far as the store or further (its newer epoch is
  uploaded then); the store wins when it is further.
- An unreachable store stops the training before it starts: a silent fresh start would spend
  the GPU hours again and log a second MLflow run for the same run key.

Models travel whole through get/put (bytes in memory): ~90 MB for Xception at 299 px.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from pathlib import Path
from typing import Any

from skinrisk.errors import SkinriskError
from skinrisk.layout import WORK_VARIABLE
from skinrisk.localfs import atomic_write
from skinrisk.storage.objects import ObjectConflict, ObjectStore, open_store
from skinrisk.training.loop import BEST, STATE

log = logging.getLogger(__name__)
ROOT = "checkpoints"
MARKER = "generation.json"
_GENERATION = re.compile(r"gen-(\d{4})/" + re.escape(MARKER))
_EPOCH = re.compile(r"epochs/(\d{4})\.json")
_RECORD = re.compile(r"[a-z_]+\.json")


class LocalCheckpoints:
    """No working prefix: the local folder is all there is (the embedded default)."""

    def folder(self, base: Path) -> Path:
        return base

    def restore(self, folder: Path) -> None:
        """Nothing to restore from."""

    def push_epoch(self, folder: Path) -> None:
        """Nowhere to copy to."""

    def keep(self, path: Path) -> None:
        """Nowhere to copy to."""


class CheckpointMirror:
    """One generation of one run key's checkpoints on the working prefix."""

    def __init__(self, store: ObjectStore, run_key: str, generation: int,
                 known: set[str]) -> None:
        self.store, self.generation = store, generation
        self.name = f"gen-{generation:04d}"
        self.prefix = f"{ROOT}/{run_key}/{self.name}/"
        self.known = known  # keys under the prefix, listed at the start or written since

    def folder(self, base: Path) -> Path:
        return base / self.name

    def restore(self, folder: Path) -> None:
        """Bring the local folder level with the store: the records it lacks, then the newest
        epoch when the store's is further; upload the local epoch when the disk's is."""
        folder.mkdir(parents=True, exist_ok=True)
        self._sync_records(folder)
        remote = max((int(m[1]) for k in self.known
                      if (m := _EPOCH.fullmatch(k[len(self.prefix):]))), default=-1)
        local = _local_epoch(folder)
        if remote > local:
            self._download_epoch(folder, remote)
            log.info("restored epoch %d of %s%s", remote, self.store.location, self.prefix)
        elif local > remote:
            self.push_epoch(folder)

    def _sync_records(self, folder: Path) -> None:
        """Records both ways: the store's that the disk lacks, and the disk's that a kill kept
        from reaching the store (two writers that disagree meet ObjectConflict here)."""
        remote = {name for k in self.known
                  if _RECORD.fullmatch(name := k[len(self.prefix):])} - {MARKER}
        for name in sorted(remote):
            if not (folder / name).is_file():
                atomic_write(folder / name, self.store.get(self.prefix + name))
        for path in sorted(folder.glob("*.json")):
            if path.name not in remote | {STATE}:
                self.keep(path)

    def push_epoch(self, folder: Path) -> None:
        """Copy the folder's checkpoint (just written by the loop) unless the store has it."""
        state = json.loads((folder / STATE).read_text())
        key = self._epoch_key(state["progress"]["next_epoch"])
        if key in self.known:
            return
        record = {"model": self._put_model(folder / state["checkpoint"]),
                  "best": self._put_model(folder / BEST), "state": state}
        self._put(key, (json.dumps(record, indent=1) + "\n").encode())  # last: now complete

    def best_model(self, folder: Path) -> Path:
        """Only the best model of the newest complete epoch (a finished training's model, what
        evaluation needs), into ``folder``; not fetched again while the folder holds it."""
        epochs = [int(m[1]) for k in self.known if (m := _EPOCH.fullmatch(k[len(self.prefix):]))]
        if not epochs:
            raise SkinriskError(f"{self.store.location}{self.prefix}: no complete epoch")
        key = json.loads(self.store.get(self._epoch_key(max(epochs))))["best"]
        target, source = folder / BEST, folder / f"{BEST}.source"
        if not (target.is_file() and source.is_file() and source.read_text() == key):
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write(target, self._get_model(key))
            atomic_write(source, key.encode())
        return target

    def record(self, name: str) -> dict[str, Any] | None:
        """One of the train command's records, read from the store (None: not written)."""
        key = self.prefix + name
        return json.loads(self.store.get(key)) if key in self.known else None

    def keep(self, path: Path) -> None:
        """Copy one of the train command's records (written once per generation)."""
        self._put(self.prefix + path.name, path.read_bytes())

    def _epoch_key(self, epochs_done: int) -> str:
        return f"{self.prefix}epochs/{epochs_done:04d}.json"

    def _put(self, key: str, data: bytes) -> None:
        self.store.put_if_absent(key, data)
        self.known.add(key)

    def _put_model(self, path: Path) -> str:
        data = path.read_bytes()
        key = f"{self.prefix}models/{hashlib.sha256(data).hexdigest()}.keras"
        if key not in self.known:  # the best model is often the one of an earlier epoch
            self._put(key, data)
        return key

    def _get_model(self, key: str) -> bytes:
        data = self.store.get(key)
        if f"{hashlib.sha256(data).hexdigest()}.keras" != key.rpartition("/")[2]:
            raise SkinriskError(f"{self.store.location}{key}: the bytes read back do not hash "
                                "to the name they were stored under; the store or the transfer "
                                "damaged them. Rerun; if it persists, check the store")
        return data

    def _download_epoch(self, folder: Path, epochs_done: int) -> None:
        record = json.loads(self.store.get(self._epoch_key(epochs_done)))
        state = record["state"]
        atomic_write(folder / state["checkpoint"], self._get_model(record["model"]))
        atomic_write(folder / BEST, self._get_model(record["best"]))
        # Last, as the loop writes it: a kill before this leaves the folder's previous state.
        atomic_write(folder / STATE, (json.dumps(state, indent=1) + "\n").encode())


def _local_epoch(folder: Path) -> int:
    path = folder / STATE
    return int(json.loads(path.read_text())["progress"]["next_epoch"]) if path.is_file() else -1


def open_mirror(url: str | None, run_key: str,
                fresh: bool = False) -> CheckpointMirror | LocalCheckpoints:
    """The run key's newest generation on the working prefix (a new one when ``fresh`` or when
    there is none); LocalCheckpoints when no prefix is set."""
    if not url:
        return LocalCheckpoints()
    root = f"{ROOT}/{run_key}/"
    try:
        store = open_store(url)
        keys = store.list(root)
        generation = _claim(store, root, keys, fresh)
    except (SkinriskError, OSError) as exc:
        raise SkinriskError(
            f"{WORK_VARIABLE}={url}: the working prefix cannot be read or written ({exc}). "
            "This training's checkpoints live there, and it does not start afresh without "
            "them (that would spend the GPU hours again and log a second MLflow run). Make the "
            f"store reachable (endpoint, credentials, bucket, permissions) and rerun, or unset "
            f"{WORK_VARIABLE} to keep checkpoints on the local disk only") from None
    prefix = f"{root}gen-{generation:04d}/"
    return CheckpointMirror(store, run_key, generation, {k for k in keys if k.startswith(prefix)})


def trained_mirror(url: str, run_key: str) -> CheckpointMirror | None:
    """The run key's newest generation, read only (None: never trained there). For a task that
    needs a training's outcome on another machine (`skinrisk evaluate` on a wiped disk)."""
    root = f"{ROOT}/{run_key}/"
    try:
        store = open_store(url)
        keys = store.list(root)
    except (SkinriskError, OSError) as exc:
        raise SkinriskError(f"{WORK_VARIABLE}={url}: the working prefix cannot be read "
                            f"({exc}); make it reachable and rerun") from None
    taken = [int(m[1]) for k in keys if (m := _GENERATION.fullmatch(k[len(root):]))]
    if not taken:
        return None
    prefix = f"{root}gen-{max(taken):04d}/"
    return CheckpointMirror(store, run_key, max(taken), {k for k in keys if k.startswith(prefix)})


def _claim(store: ObjectStore, root: str, keys: list[str], fresh: bool) -> int:
    """The newest generation, or a new one claimed by a write-once marker. A fresh claim
    carries a random token, so two fresh starts racing for one number cannot both win it;
    the first generation's marker is the same bytes for every starter, who share it."""
    taken = [int(m[1]) for k in keys if (m := _GENERATION.fullmatch(k[len(root):]))]
    if taken and not fresh:
        return max(taken)
    number = max(taken, default=0) + 1
    while True:
        marker = {"generation": number, "claim": uuid.uuid4().hex if fresh else None}
        try:
            store.put_if_absent(f"{root}gen-{number:04d}/{MARKER}", json.dumps(marker).encode())
        except ObjectConflict:
            number += 1
            continue
        return number

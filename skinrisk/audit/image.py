"""`skinrisk audit image`: one photo forward — its batch, its quality verdict, the dataset
versions that hold it, the models that trained and were tested on it.

Asked by image id (or a unique prefix of one) or by the file name a hospital sent. A file name
is resolved through the private store and never written into the trace: names can carry
patient identifiers (PAD-UFES-20's do).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

from skinrisk import ledger
from skinrisk.audit.model import PREDICTIONS_ARTIFACT, TRAIN_ROLES, RunArtifacts
from skinrisk.audit.versions import DataVersions
from skinrisk.catalog import ASSIGNMENTS, QUALITY_QUARANTINE, RAW, RAW_IMAGES
from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout
from skinrisk.ledger import Event
from skinrisk.records import has_private_store, open_private_store
from skinrisk.storage.rawzone import RawZone
from skinrisk.storage.tables import read_rows
from skinrisk.tracking import IMAGES_ARTIFACT

IMAGE_ID = re.compile(r"^[0-9a-f]{8,64}$")


def trace_image(layout: StateLayout, client: Any, query: str, remote: str) -> dict[str, Any]:
    check_query(query)
    versions = DataVersions(layout.workspace, remote)
    found = _resolve(layout, query, versions)
    entries = list(ledger.read(layout))
    models = _ModelIndex(client, entries)
    ingested = {e["data"]["batch_id"]: e for e in entries if e["event"] == Event.BATCH_INGESTED}
    images = []
    for item in found:
        batch = ingested.get(item["batch_id"])
        image_id = item["image_id"]
        images.append({
            **item, "ingested_at": batch["at"] if batch else None,
            "ingested_by": batch["by"] if batch else None,
            "versions": _in_versions(versions, image_id, item["batch_id"]) if image_id else [],
            "models": models.involving(image_id) if image_id else []})
    subject = found[0]["image_id"] if len(found) == 1 and found[0]["image_id"] else (
        f"{len(found)} received files" if not IMAGE_ID.match(query) else query)
    return {"audit": {"kind": "image", "subject": subject,
                      "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")},
            "images": images}


def check_query(query: str) -> None:
    """Refuse an image id too short to name one image, before anything is fetched."""
    if re.fullmatch(r"[0-9a-f]{1,7}", query):
        raise SkinriskError(f"{query!r} is too short to name an image: give at least 8 "
                            "characters of its id (the sha256 in data/raw/<batch>/images.parquet"
                            "), or the file name as the hospital sent it")


def _resolve(layout: StateLayout, query: str, versions: DataVersions) -> list[dict[str, Any]]:
    if IMAGE_ID.match(query):
        hits = [{"image_id": r["image_id"], "batch_id": b, "ingest": "accepted"}
                for b, r in _accepted(layout, versions) if r["image_id"].startswith(query)]
        ids = {h["image_id"] for h in hits}
        if len(ids) > 1:
            raise SkinriskError(f"{len(ids)} images start with {query}: give more of the id")
        if hits:
            return hits
    rows: list[dict[str, Any]] = []
    if has_private_store(layout):
        with open_private_store(layout) as private:
            rows = private.files_named(query)
    if not rows:
        raise SkinriskError(f"no image has an id starting with, or was received as, {query!r} "
                            "(ids are the sha256 of the de-identified bytes; see "
                            "data/raw/<batch>/images.parquet)")
    return [{"image_id": r["image_id"], "batch_id": r["batch_id"],
             "ingest": "accepted" if r["image_id"] else f"quarantined at ingest: {r['reason']}"}
            for r in rows]


def _accepted(layout: StateLayout, versions: DataVersions
              ) -> Iterator[tuple[str, dict[str, Any]]]:
    """(batch, image row) of every accepted image: from the raw zone on the disk, or, where
    tasks clone and the disk holds none, from the newest version's tables (read by content
    address; batches after it are found by their received file names)."""
    if not layout.clones:
        raw = RawZone(layout.raw, layout.quarantine)
        for batch in raw.committed_batches():
            yield from ((batch, r) for r in read_rows(raw.batch_dir(batch) / RAW_IMAGES))
        return
    tags = versions.tags()
    for path in sorted(versions.outputs(tags[-1]) if tags else ()):
        if path.startswith(f"{RAW}/"):
            rows = versions.read_rows(tags[-1], f"{path}/{RAW_IMAGES}")
            yield from ((PurePosixPath(path).name, r) for r in rows)


def _in_versions(versions: DataVersions, image_id: str, batch_id: str) -> list[dict[str, Any]]:
    out = []
    for tag in versions.tags():
        if f"{RAW}/{batch_id}" not in versions.outputs(tag):
            continue  # the batch came after this version
        split = {r["image_id"]: r["split"] for r in versions.read_rows(tag, ASSIGNMENTS)}
        quarantined = {r["image_id"]: f"{r['reasons']} ({r['detail']})"
                       for r in versions.read_rows(tag, QUALITY_QUARANTINE)}
        if image_id in quarantined:
            quality = f"quarantined: {quarantined[image_id]}"
        elif image_id in split:
            quality = "accepted"
        else:
            quality = "not curated (refused by validation)"
        out.append({"version": tag, "quality": quality, "split": split.get(image_id)})
    return out


class _ModelIndex:
    """Training and evaluation runs from the ledger, with their image lists read once each."""

    def __init__(self, client: Any, entries: list[dict[str, Any]]) -> None:
        self.client = client
        self.trained = {e["data"]["run_id"]: e for e in entries if e["event"] == Event.TRAINING_RUN}
        self.evaluated = {e["data"]["run_id"]: e for e in entries if e["event"] == Event.EVALUATION}

    def involving(self, image_id: str) -> list[dict[str, Any]]:
        out = []
        for run_id, entry in self.trained.items():
            artifacts = RunArtifacts(run_id)
            lists = artifacts.json(IMAGES_ARTIFACT) or {}
            roles = [f"trained on ({role})" for role in TRAIN_ROLES
                     if image_id in set(lists.get(role, []))]
            tested = [f"tested on ({r['split']})"
                      for r in artifacts.parquet(PREDICTIONS_ARTIFACT)
                      if r["image_id"] == image_id] if run_id in self.evaluated else []
            for role in roles + tested:
                out.append({"model": self._model(run_id), "run_id": run_id, "role": role,
                            "data_version": entry["data"]["data_version"],
                            "aliases": self._aliases(run_id)})
        return out

    def _versions(self, run_id: str) -> list[Any]:
        return self.client.search_model_versions(f"run_id='{run_id}'")

    def _model(self, run_id: str) -> str:
        found = self._versions(run_id)
        return ", ".join(f"{v.name}/{v.version}" for v in found) or "not registered"

    def _aliases(self, run_id: str) -> list[str]:
        # Search results may omit aliases; a version read by number carries them.
        return sorted(a for v in self._versions(run_id)
                      for a in (self.client.get_model_version(v.name, v.version).aliases or []))

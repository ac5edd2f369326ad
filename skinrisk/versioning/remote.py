"""Does the DVC remote really hold every object of the current version? Re-hash to know.

`dvc status -c` compares names only; a truncated or altered object passes it. Here every
object listed by the workspace's .dvc files (and, for directories, their .dir manifests) is
read back from the remote, through the one object store (a folder or S3 alike), and its MD5
recomputed.

The repair deletes nothing. `dvc push` cannot do it alone: it skips objects that exist, and
takes a directory whose .dir manifest is in the remote as complete, so it re-uploads neither a
damaged object nor a missing member. So the repair writes them itself, from the workspace's
DVC cache: a missing object put-if-absent, a damaged one replaced by the store's guarded
replace_corrupt(), which first keeps the damaged bytes under `corrupt/` as evidence.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from skinrisk.errors import SkinriskError
from skinrisk.storage.objects import ObjectMissing, ObjectStore, check_replacement, hash_stream
from skinrisk.versioning.workspace import dvc_object_cache


@dataclass(frozen=True)
class BadObject:
    md5: str
    what: str  # the workspace path it stands for

    def __str__(self) -> str:
        return f"{self.md5} {self.what}"


@dataclass
class RemoteCheck:
    objects: int = 0
    missing: list[BadObject] = field(default_factory=list)
    corrupt: list[BadObject] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.corrupt


@dataclass
class RemoteRepair:
    uploaded: int = 0  # missing objects written from the cache
    replaced: int = 0  # damaged objects replaced, their bytes kept as evidence
    evidence: list[str] = field(default_factory=list)  # store keys under corrupt/


def tracked_outputs(workspace: Path) -> Iterator[tuple[str, str]]:
    """(md5, path) of every output of the version: .dvc files and dvc.lock's stages."""
    for dvc_file in sorted((workspace / "data").rglob("*.dvc")):
        for out in yaml.safe_load(dvc_file.read_text()).get("outs", []):
            yield out["md5"], str(dvc_file.parent.relative_to(workspace) / out["path"])
    lock = workspace / "dvc.lock"
    stages = (yaml.safe_load(lock.read_text()) or {}).get("stages", {}) if lock.is_file() else {}
    in_git = _uncached(workspace)
    for stage in stages.values():
        for out in stage.get("outs", []):
            if out["path"] not in in_git:
                yield out["md5"], out["path"]


def _uncached(workspace: Path) -> set[str]:
    """Outputs declared with `cache: false` (small metrics): git holds them, not the remote."""
    spec = yaml.safe_load((workspace / "dvc.yaml").read_text()) or {}
    paths = set()
    for stage in spec.get("stages", {}).values():
        for kind in ("outs", "metrics", "plots"):
            for entry in stage.get(kind, []) or []:
                if isinstance(entry, dict):
                    paths |= {p for p, opts in entry.items() if (opts or {}).get("cache") is False}
    return paths


def expected_objects(workspace: Path, store: ObjectStore | None = None
                     ) -> Iterator[tuple[str, str]]:
    """(md5, what it is) for every object the version needs: each output, and for a
    directory its .dir manifest then every member. A manifest comes from the workspace's DVC
    cache, else from ``store`` (a cloned workspace has pulled nothing); one the store lacks or
    cannot parse lists no members: the manifest itself is then found missing or corrupt."""
    cache = dvc_object_cache(workspace)
    for md5, path in tracked_outputs(workspace):
        yield md5, path
        if md5.endswith(".dir"):
            for entry in _manifest(cache, store, md5):
                yield entry["md5"], f"{path}/{entry['relpath']}"


def _manifest(cache: Path, store: ObjectStore | None, md5: str) -> list[dict]:
    local = local_object(cache, md5)
    if local.is_file():
        return json.loads(local.read_text())
    if store is None:
        raise SkinriskError(f"{local}: a directory manifest the workspace's DVC cache lacks; "
                            "run `dvc pull` in the workspace, or check against the remote")
    try:
        entries = json.loads(store.get(remote_key(md5)))
    except (ObjectMissing, ValueError):
        return []
    return [e for e in entries if isinstance(e, dict) and {"md5", "relpath"} <= e.keys()] if (
        isinstance(entries, list)) else []


def remote_key(md5: str) -> str:
    """Where DVC 3 keeps an object in a remote (and in its cache)."""
    return f"files/md5/{md5[:2]}/{md5[2:]}"


def local_object(remote: Path, md5: str) -> Path:
    return remote / remote_key(md5)


def check_remote(workspace: Path, store: ObjectStore) -> RemoteCheck:
    """Stream every object the version needs back from the store and re-hash it."""
    result = RemoteCheck()
    for md5, what in expected_objects(workspace, store):
        result.objects += 1
        try:
            with store.open(remote_key(md5)) as stream:
                found, _sha256 = hash_stream(stream)
        except ObjectMissing:
            result.missing.append(BadObject(md5, what))
            continue
        if found != md5.removesuffix(".dir"):
            result.corrupt.append(BadObject(md5, what))
    return result


def repair_remote(workspace: Path, store: ObjectStore, check: RemoteCheck) -> RemoteRepair:
    """Write what `check` found missing or damaged from the workspace's DVC cache; delete
    nothing. Directory manifests go last, so that a repair cut short is found again."""
    repair = RemoteRepair()
    for bad in sorted(check.missing, key=_manifests_last):
        data = _cached(workspace, store, bad)
        # Checked as a replacement is: damaged cache bytes would fill a write-once key for good.
        check_replacement(store.location, remote_key(bad.md5), data, bad.md5.removesuffix(".dir"))
        if store.put_if_absent(remote_key(bad.md5), data):
            repair.uploaded += 1
    for bad in sorted(check.corrupt, key=_manifests_last):
        kept = store.replace_corrupt(remote_key(bad.md5), _cached(workspace, store, bad),
                                     bad.md5.removesuffix(".dir"))
        if kept is not None:
            repair.replaced += 1
            repair.evidence.append(kept)
    return repair


def _manifests_last(bad: BadObject) -> tuple[bool, str]:
    return bad.md5.endswith(".dir"), bad.md5


def _cached(workspace: Path, store: ObjectStore, bad: BadObject) -> bytes:
    cached = local_object(dvc_object_cache(workspace), bad.md5)
    if not cached.is_file():
        raise SkinriskError(f"{bad.what}: DVC object {bad.md5} is bad in {store.location} and "
                            "not in the workspace cache to repair it from; `dvc fetch` it from "
                            "another copy of the remote, or re-add the data, then rerun")
    return cached.read_bytes()

"""Any dataset version's files, read by content address and re-hashed on every read.

An auditor asks about versions the workspace no longer has checked out. Everything a version
holds is named by its git tag: small files (split summary, quality report) are in git; the rest
are DVC objects whose MD5 the tag's .dvc files and dvc.lock record. Objects come from the
workspace's DVC cache, else from the DVC remote (folder or S3), and a byte that does not hash to
its recorded MD5 is an error, not an answer.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from skinrisk.errors import SkinriskError
from skinrisk.storage.objects import ObjectMissing, ObjectStore, open_store
from skinrisk.versioning.remote import local_object, remote_key
from skinrisk.versioning.version import TAG
from skinrisk.versioning.workspace import dvc_object_cache


class DataVersions:
    """Read-only view of every data-vN tag of one workspace (a clone of the data repository)."""

    def __init__(self, workspace: Path, remote: str) -> None:
        if not (workspace / ".git").exists():
            raise SkinriskError(f"{workspace} is not a data workspace: no dataset version has "
                                "been made here (run `skinrisk version`)")
        self.workspace = workspace
        self.remote = remote
        self._cache = dvc_object_cache(workspace)  # read from its config once, not per object
        self._remote_store: ObjectStore | None = None
        self._outputs = cache(self._read_outputs)

    def tags(self) -> list[str]:
        names = self._git("tag", "--list", "data-v*").decode().split()
        return sorted((n for n in names if TAG.match(n)), key=lambda n: int(TAG.match(n)[1]))

    def commit(self, tag: str) -> str:
        return self._git("rev-list", "-n", "1", tag).decode().strip()

    def outputs(self, tag: str) -> dict[str, str]:
        """DVC-tracked path -> MD5 (".dir" for folders) at that version."""
        return self._outputs(tag)

    def read(self, tag: str, path: str) -> bytes:
        """One file of the version, from git or by its DVC content address."""
        if self._in_git(tag, path):
            return self._git("show", f"{tag}:{path}")
        md5 = self.member_md5(tag, path)
        if md5 is None:
            raise SkinriskError(f"{path} is not part of dataset version {tag} (neither in git "
                                "nor tracked by DVC there)")
        return self.object(md5, f"{tag}:{path}")

    def read_json(self, tag: str, path: str) -> Any:
        return json.loads(self.read(tag, path))

    def read_rows(self, tag: str, path: str) -> list[dict[str, Any]]:
        import pyarrow.parquet as pq

        return pq.read_table(io.BytesIO(self.read(tag, path))).to_pylist()

    def listing(self, tag: str, folder: str) -> dict[str, str]:
        """relpath -> MD5 of every file in a DVC-tracked folder of the version."""
        md5 = self.outputs(tag).get(folder)
        if md5 is None or not md5.endswith(".dir"):
            return {}
        return {e["relpath"]: e["md5"] for e in json.loads(self.object(md5, f"{tag}:{folder}"))}

    def member_md5(self, tag: str, path: str) -> str | None:
        outputs = self.outputs(tag)
        if path in outputs:
            return outputs[path]
        for parent in PurePosixPath(path).parents:
            if str(parent) in outputs:
                return self.listing(tag, str(parent)).get(str(PurePosixPath(path)
                                                               .relative_to(parent)))
        return None

    def object(self, md5: str, what: str) -> bytes:
        data = self._fetch(md5)
        if data is None:
            raise SkinriskError(f"{what}: DVC object {md5} is neither in the workspace cache nor "
                                f"in the remote {self.remote}; run `skinrisk data status`")
        if hashlib.md5(data).hexdigest() != md5.removesuffix(".dir"):
            raise SkinriskError(f"{what}: DVC object {md5} does not hash to its name (corrupt); "
                                "run `skinrisk data status` to find and re-push damaged objects")
        return data

    def _fetch(self, md5: str) -> bytes | None:
        cached = local_object(self._cache, md5)
        if cached.is_file():
            return cached.read_bytes()
        # Through the one object store (folder or S3): only "no such key" means absent; a
        # denied or unreachable remote fails as itself, not as a missing object.
        try:
            return self._store().get(remote_key(md5))
        except ObjectMissing:
            return None

    def _store(self) -> ObjectStore:
        if self._remote_store is None:
            self._remote_store = open_store(self.remote)
        return self._remote_store

    def _read_outputs(self, tag: str) -> dict[str, str]:
        found: dict[str, str] = {}
        for name in self._git("ls-tree", "-r", "--name-only", tag, "--", "data").decode().split():
            if name.endswith(".dvc"):
                spec = yaml.safe_load(self._git("show", f"{tag}:{name}")) or {}
                for out in spec.get("outs", []):
                    found[str(PurePosixPath(name).parent / out["path"])] = out["md5"]
        if self._in_git(tag, "dvc.lock"):
            lock = yaml.safe_load(self._git("show", f"{tag}:dvc.lock")) or {}
            for stage in lock.get("stages", {}).values():
                for out in stage.get("outs", []):
                    found.setdefault(out["path"], out["md5"])
        return found

    def _in_git(self, tag: str, path: str) -> bool:
        return subprocess.run(["git", "cat-file", "-e", f"{tag}:{path}"], cwd=self.workspace,
                              capture_output=True, check=False).returncode == 0

    def _git(self, *args: str) -> bytes:
        result = subprocess.run(["git", *args], cwd=self.workspace, capture_output=True,
                                check=False)
        if result.returncode != 0:
            raise SkinriskError(f"`git {' '.join(args)}` failed in {self.workspace}: "
                                f"{result.stderr.decode().strip()[-500:]}")
        return result.stdout

"""Does the DVC remote really hold every object of the current version? Re-hash to know.

`dvc status -c` compares names only; a truncated or altered object passes it. Here every
object listed by the workspace's .dvc files (and, for directories, their .dir manifests) is
read back from the remote and its MD5 recomputed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

CHUNK = 1 << 20


@dataclass
class RemoteCheck:
    objects: int = 0
    missing: list[str] = field(default_factory=list)  # "md5 path"
    corrupt: list[str] = field(default_factory=list)
    # Objects to delete before a re-push: corrupt ones, and the .dir manifest of every directory
    # with a bad member, because DVC takes a directory whose .dir is in the remote as complete.
    to_delete: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.corrupt

    def bad(self, kind: str, md5: str, what: str, parent: str | None) -> None:
        (self.missing if kind == "missing" else self.corrupt).append(f"{md5} {what}")
        if kind == "corrupt":
            self.to_delete.add(md5)
        if parent:
            self.to_delete.add(parent)


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


def expected_objects(workspace: Path) -> Iterator[tuple[str, str, str | None]]:
    """(md5, what it is, its directory's .dir md5) for every object the version needs."""
    cache = workspace / ".dvc" / "cache" / "files" / "md5"
    for md5, path in tracked_outputs(workspace):
        yield md5, path, None
        if md5.endswith(".dir"):
            for entry in json.loads((cache / md5[:2] / md5[2:]).read_text()):
                yield entry["md5"], f"{path}/{entry['relpath']}", md5


def check_local_remote(workspace: Path, remote: Path) -> RemoteCheck:
    result = RemoteCheck()
    for md5, what, parent in expected_objects(workspace):
        result.objects += 1
        obj = local_object(remote, md5)
        if not obj.is_file():
            result.bad("missing", md5, what, parent)
        elif _md5(obj.open("rb")) != md5.removesuffix(".dir"):
            result.bad("corrupt", md5, what, parent)
    return result


def local_object(remote: Path, md5: str) -> Path:
    return remote / "files" / "md5" / md5[:2] / md5[2:]


def check_s3_remote(workspace: Path, url: str) -> RemoteCheck:
    from botocore.exceptions import ClientError

    from skinrisk.storage.s3 import make_client, split_uri

    bucket, prefix = split_uri(url)
    client = make_client()
    result = RemoteCheck()
    for md5, what, parent in expected_objects(workspace):
        result.objects += 1
        key = f"{prefix}files/md5/{md5[:2]}/{md5[2:]}"
        try:
            body = client.get_object(Bucket=bucket, Key=key)["Body"]
        except ClientError:
            result.bad("missing", md5, what, parent)
            continue
        if _md5(body) != md5.removesuffix(".dir"):
            result.bad("corrupt", md5, what, parent)
    return result


def delete_objects(remote: str, md5s: set[str]) -> None:
    """Remove damaged objects so that `dvc push` uploads them again."""
    if remote.startswith("s3://"):
        from skinrisk.storage.s3 import make_client, split_uri

        bucket, prefix = split_uri(remote)
        client = make_client()
        for md5 in md5s:
            client.delete_object(Bucket=bucket, Key=f"{prefix}files/md5/{md5[:2]}/{md5[2:]}")
        return
    for md5 in md5s:
        local_object(Path(remote), md5).unlink(missing_ok=True)


def _md5(stream) -> str:
    digest = hashlib.md5()
    with stream:
        for chunk in iter(lambda: stream.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()

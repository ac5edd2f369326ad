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

    @property
    def ok(self) -> bool:
        return not self.missing and not self.corrupt


def expected_objects(workspace: Path) -> Iterator[tuple[str, str]]:
    """(md5, what it is) for every object the workspace's .dvc files need."""
    cache = workspace / ".dvc" / "cache" / "files" / "md5"
    for dvc_file in sorted((workspace / "data").rglob("*.dvc")):
        for out in yaml.safe_load(dvc_file.read_text()).get("outs", []):
            md5, path = out["md5"], out["path"]
            yield md5, f"{dvc_file.parent.name}/{path}"
            if md5.endswith(".dir"):
                manifest = json.loads((cache / md5[:2] / md5[2:]).read_text())
                for entry in manifest:
                    yield entry["md5"], f"{path}/{entry['relpath']}"


def check_local_remote(workspace: Path, remote: Path) -> RemoteCheck:
    result = RemoteCheck()
    for md5, what in expected_objects(workspace):
        result.objects += 1
        obj = remote / "files" / "md5" / md5[:2] / md5[2:]
        if not obj.is_file():
            result.missing.append(f"{md5} {what}")
        elif _md5(obj.open("rb")) != md5.removesuffix(".dir"):
            result.corrupt.append(f"{md5} {what}")
    return result


def check_s3_remote(workspace: Path, url: str) -> RemoteCheck:
    from botocore.exceptions import ClientError

    from skinrisk.storage.s3 import make_client, split_uri

    bucket, prefix = split_uri(url)
    client = make_client()
    result = RemoteCheck()
    for md5, what in expected_objects(workspace):
        result.objects += 1
        key = f"{prefix}files/md5/{md5[:2]}/{md5[2:]}"
        try:
            body = client.get_object(Bucket=bucket, Key=key)["Body"]
        except ClientError:
            result.missing.append(f"{md5} {what}")
            continue
        if _md5(body) != md5.removesuffix(".dir"):
            result.corrupt.append(f"{md5} {what}")
    return result


def _md5(stream) -> str:
    digest = hashlib.md5()
    with stream:
        for chunk in iter(lambda: stream.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()

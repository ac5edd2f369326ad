"""The pipeline's workspace: a clone of the data repository, never a person's checkout.

Bootstrap (first use): the git remote (SKINRISK_GIT_REMOTE, default a bare repository under
SKINRISK_HOME) gets this checkout's HEAD as branch ``data``; the workspace becomes a clone of
that branch in place, so data the stages already wrote there stays (it is git-ignored and
DVC-tracked). The DVC remote (SKINRISK_DVC_REMOTE: a folder or s3://bucket/prefix, default a
folder under SKINRISK_HOME) goes into the workspace's local DVC config, never into git; S3
credentials and endpoint come from the environment.
"""

from __future__ import annotations

import os
from pathlib import Path

from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout, project_root
from skinrisk.versioning.tools import git

BRANCH = "data"
GIT_REMOTE_VARIABLE = "SKINRISK_GIT_REMOTE"
DVC_REMOTE_VARIABLE = "SKINRISK_DVC_REMOTE"


def git_remote(layout: StateLayout) -> str:
    return os.environ.get(GIT_REMOTE_VARIABLE) or str(layout.git_remote)


def dvc_remote(layout: StateLayout) -> str:
    return os.environ.get(DVC_REMOTE_VARIABLE) or str(layout.dvc_remote)


def ensure_workspace(layout: StateLayout, source: Path | None = None) -> Path:
    """Create the remotes and the workspace on first use; afterwards just return it."""
    workspace = layout.workspace
    remote = git_remote(layout)
    if not (workspace / ".git").is_dir():
        seed_remote(remote, source or project_root())
        workspace.mkdir(parents=True, exist_ok=True)
        git(workspace, "init", "-q", "-b", BRANCH)
        git(workspace, "remote", "add", "origin", remote)
        git(workspace, "fetch", "-q", "origin", BRANCH)
        git(workspace, "checkout", "-q", "-B", BRANCH, "--track", f"origin/{BRANCH}")
        # Versions are made by the pipeline, and say so.
        git(workspace, "config", "user.name", "skinrisk pipeline")
        git(workspace, "config", "user.email", "skinrisk-pipeline@localhost")
    _check_origin(workspace, remote)
    configure_dvc(workspace, dvc_remote(layout), layout.dvc_cache)
    return workspace


def _check_origin(workspace: Path, remote: str) -> None:
    """A workspace pushes where the other workers read: a remote changed under it (an upgrade,
    a moved server) would split the data versions in two, silently."""
    origin = git(workspace, "config", "--get", "remote.origin.url")  # as set, not rewritten
    if _same_remote(origin, remote):
        return
    setting = (f"{GIT_REMOTE_VARIABLE} is {remote}" if os.environ.get(GIT_REMOTE_VARIABLE)
               else f"{GIT_REMOTE_VARIABLE} is unset (the default: {remote})")
    raise SkinriskError(
        f"the workspace {workspace} pushes to {origin}, but {setting}: other workers read the "
        "latter. Copy the data repository there (all branches and tags), then run `git -C "
        "WORKSPACE remote set-url origin URL` (infra/README.md, first run, step 1), or set the "
        "variable back")


def _same_remote(a: str, b: str) -> bool:
    """One repository spelt two ways: a trailing slash, or a local path through a symlink."""
    a, b = a.strip().rstrip("/"), b.strip().rstrip("/")
    if a == b:
        return True
    local = ("://" not in a and ":" not in a.split("/")[0]
             and "://" not in b and ":" not in b.split("/")[0])
    return local and Path(a).expanduser().resolve() == Path(b).expanduser().resolve()


def seed_remote(remote: str, source: Path | None) -> None:
    if "://" in remote or ":" in remote.split("/")[0]:
        return  # a server the organisation runs: it already has the branch
    path = Path(remote)
    if (path / "HEAD").is_file():
        return
    if source is None:
        raise SkinriskError(f"the data repository {remote} does not exist and skinrisk is not "
                            f"running from a checkout to seed it; set {GIT_REMOTE_VARIABLE}")
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "--bare")
    # The code the workspace runs comes from this checkout's last commit, never its edits.
    git(source, "push", "-q", str(path), f"HEAD:refs/heads/{BRANCH}")


def configure_dvc(workspace: Path, remote: str, object_cache: Path | None = None) -> None:
    """Point the workspace's DVC at ``remote`` (and at ``object_cache``, a kept cache folder,
    if any): its git-ignored .dvc/config.local, written whole (four `dvc config` calls cost a
    second of start-up each, on every cloned task)."""
    if not (workspace / ".dvc").is_dir():
        raise SkinriskError(f"{workspace} has no .dvc folder: the data branch must come from a "
                            "commit that has `dvc init` in it")
    local = workspace / ".dvc" / "config.local"
    wanted = dvc_local_config(workspace, remote, object_cache)
    if not local.is_file() or local.read_text() != wanted:
        local.write_text(wanted)


def dvc_local_config(workspace: Path, remote: str, object_cache: Path | None = None) -> str:
    """The .dvc/config.local a workspace has when configured for ``remote`` (DVC's own format,
    as `dvc remote add --local --default` and `dvc config --local` write it)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    # DVC's own indexes stay under SKINRISK_HOME (its default is /var/tmp/dvc).
    core = {"remote": "storage", "site_cache_dir": str(workspace.parent / "cache" / "dvc-site")}
    # A folder remote, absolute: DVC reads a relative one from the config file's folder.
    storage = {"url": remote if "://" in remote else str(Path(remote).expanduser().resolve())}
    if remote.startswith("s3://") and endpoint:
        storage["endpointurl"] = endpoint
    # Hard links: the versioned raw zone cannot be edited in place, and takes no second copy.
    cache = {"type": "hardlink,copy"}
    if object_cache is not None:  # content-addressed: one worker's tasks may share it
        cache["dir"] = str(object_cache)
    sections = {"core": core, "'remote \"storage\"'": storage, "cache": cache}
    return "".join(f"[{name}]\n" + "".join(f"    {key} = {_config_value(key, value)}\n"
                                           for key, value in values.items())
                   for name, values in sections.items())


def _config_value(key: str, value: str) -> str:
    """A value as DVC's config parser (configobj) reads it back unchanged: quoted where it
    holds a list separator or a comment sign."""
    if "\n" in value or ('"' in value and "'" in value):
        raise SkinriskError(f"DVC setting {key}: {value!r} cannot be written to a DVC config "
                            "file; choose a path or URL without quotes and line breaks")
    if not any(c in value for c in ",#\"'") and value == value.strip():
        return value
    return f"'{value}'" if '"' in value else f'"{value}"'


def dvc_object_cache(workspace: Path) -> Path:
    """Where the workspace's DVC keeps its objects: the kept cache folder its config.local
    names (configure_dvc), else DVC's default, .dvc/cache."""
    local = workspace / ".dvc" / "config.local"
    section = None
    for line in (local.read_text().splitlines() if local.is_file() else []):
        entry = line.strip()
        if entry.startswith("["):
            section = entry
        elif section == "[cache]" and entry.startswith("dir ="):
            return Path(entry.split("=", 1)[1].strip().strip("\"'"))
    return workspace / ".dvc" / "cache"

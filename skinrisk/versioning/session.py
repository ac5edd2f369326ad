"""A data stage's workspace when its disk is a cache (SKINRISK_WORKSPACE=clone).

The data stages (ingest, quality, validate, split, pack, version) write the data branch, one at
a time. With the embedded default (`keep`) they share the workspace under SKINRISK_HOME and
this does nothing. With `clone` every stage, on any worker, runs as one session under the
`data-branch` lock (a PostgreSQL advisory lock):

1. the data branch is checked out afresh from the git remote (whatever a killed task left on
   the disk is thrown away: it was never pushed, so no other task saw it) and every DVC output
   it tracks is pulled;
2. the stage runs as it would on the embedded workspace;
3. what it wrote is published before the lock is released: each newly committed raw batch
   becomes one DVC entry (immutable, as `version` makes it), the stage's outputs go into
   dvc.lock, DVC pushes the objects, and a commit on the branch is pushed. Ingest's quarantined
   files, which can hold patient identifiers, go to their own private store
   (SKINRISK_QUARANTINE_URL), never to git or DVC.

A stage killed before its push leaves the branch as it was: the rerun starts again from it.
Tags (data-vN) stay `version`'s alone, so a reader of a version never sees a half-made one.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import yaml

from skinrisk.catalog import RAW_QUARANTINE
from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout, project_root
from skinrisk.permissions import make_private_dir, require_private
from skinrisk.records.locks import named_lock
from skinrisk.storage.objects import open_store
from skinrisk.storage.rawzone import RawZone
from skinrisk.storage.tables import read_rows
from skinrisk.versioning.checkout import fetch, local_path, require_off_disk
from skinrisk.versioning.tools import dvc, git
from skinrisk.versioning.version import DATA_STAGES, sync_code
from skinrisk.versioning.workspace import (
    BRANCH,
    DVC_REMOTE_VARIABLE,
    configure_dvc,
    dvc_remote,
    git_remote,
    seed_remote,
)

DATA_LOCK = "data-branch"
QUARANTINE_VARIABLE = "SKINRISK_QUARANTINE_URL"


@contextmanager
def data_session(layout: StateLayout, stage: str, environ: Mapping[str, str] | None = None,
                 publishes: bool = True) -> Iterator[None]:
    """Run a data stage on the data branch's head and publish what it wrote (clone mode).
    ``publishes``: False for `version`, which pushes its commit and tag itself."""
    if not layout.clones:
        yield
        return
    env = os.environ if environ is None else environ
    require_off_disk(layout, env)
    quarantine = quarantine_url(layout, env) if stage == "ingest" else None
    with named_lock(layout, DATA_LOCK) as lock:
        workspace = checkout_branch(layout)
        yield
        lock.confirm()  # still held (the git server refuses a push that is not a fast-forward)
        if publishes:
            publish(layout, workspace, stage, quarantine)


def quarantine_url(layout: StateLayout, environ: Mapping[str, str]) -> str:
    """Where ingest keeps refused files in clone mode: a private store outside the wiped disk."""
    url = environ.get(QUARANTINE_VARIABLE) or ""
    path = local_path(url)
    shared = [u.rstrip("/") for u in (
        layout.work_url, environ.get(DVC_REMOTE_VARIABLE) or str(layout.dvc_remote),
        environ.get("SKINRISK_LANDING")) if u]
    if any(url.rstrip("/") == u or url.startswith(u + "/") for u in shared):
        raise SkinriskError(f"{QUARANTINE_VARIABLE} lies inside the working prefix, the DVC "
                            "remote or the landing zone, which other tasks read: give refused "
                            "files a store of their own (docs/environment.md)")
    if not url or (path is not None and (path == layout.home or layout.home in path.parents)):
        raise SkinriskError(
            f"SKINRISK_WORKSPACE=clone: ingest needs {QUARANTINE_VARIABLE}, a private store "
            "(s3://bucket/prefix that only ingest's credentials can read, or a folder outside "
            f"SKINRISK_HOME) for the files it refuses: the local quarantine ({layout.quarantine})"
            " is emptied after every task, and a refused file may hold patient identifiers, so "
            "it never goes to git, DVC or the working prefix (docs/environment.md)")
    return url


def checkout_branch(layout: StateLayout) -> Path:
    """The data branch's head, freshly checked out, every DVC output it tracks pulled."""
    workspace, remote = layout.workspace, git_remote(layout)
    if workspace.exists():  # a cache at most: what a killed task left was never pushed
        shutil.rmtree(workspace)
    seed_remote(remote, project_root())  # a folder remote on first use (tests, one machine)
    workspace.mkdir(parents=True)
    git(workspace, "init", "-q", "-b", BRANCH)
    git(workspace, "remote", "add", "origin", remote)
    # The whole branch, not depth 1: `version` merges the code's commit into it, and a merge
    # needs the history (small: the data is in DVC).
    fetch(workspace, "origin", remote, f"+refs/heads/{BRANCH}:refs/remotes/origin/{BRANCH}",
          "+refs/tags/data-v*:refs/tags/data-v*")
    git(workspace, "checkout", "-q", "-B", BRANCH, f"refs/remotes/origin/{BRANCH}")
    git(workspace, "config", "user.name", "skinrisk pipeline")
    git(workspace, "config", "user.email", "skinrisk-pipeline@localhost")
    # The running code's dvc.yaml, not the branch's older one: each stage commits its outputs
    # into dvc.lock against it (`version` merges it the same way).
    sync_code(workspace)
    configure_dvc(workspace, dvc_remote(layout), layout.dvc_cache)
    targets = _tracked(workspace)
    if targets:
        dvc(workspace, "pull", "--quiet", *targets)
    return workspace


def _tracked(workspace: Path) -> list[str]:
    """What the branch versions: each raw batch's .dvc entry and each stage dvc.lock records
    (a bare `dvc pull` also asks for dvc.yaml stages that have not run yet, and fails)."""
    entries = sorted(str(p.relative_to(workspace)) for p in (workspace / "data").rglob("*.dvc"))
    lock = workspace / "dvc.lock"
    stages = list((yaml.safe_load(lock.read_text()) or {}).get("stages", {})) if (
        lock.is_file()) else []
    return entries + stages


def keep_quarantine(layout: StateLayout, url: str, batches: list[str]) -> None:
    """The refused files of ``batches`` (newly committed) at ``url``, each put (if absent) under
    <batch>/<sha256 as received><suffix>: found from its quarantine record, and the same key
    again when a try whose push failed is redone (its local names can differ, its bytes not).
    A folder store is made private first and refused when open to others, like the local
    quarantine (on S3 the bucket's policy keeps it private: docs/environment.md)."""
    folder = local_path(url)
    if folder is not None:
        make_private_dir(folder)
        require_private(folder)
    store = open_store(url)
    raw = RawZone(layout.raw, layout.quarantine)
    for batch in batches:
        for record in read_rows(raw.batch_dir(batch) / RAW_QUARANTINE):
            if record["stored_as"] and record["received_sha256"]:
                path = layout.quarantine / record["stored_as"]
                store.put_if_absent(quarantine_key(batch, record), path.read_bytes())
    if folder is not None:  # the store's own folders and files follow the umask
        for path in folder.rglob("*"):
            os.chmod(path, 0o700 if path.is_dir() else 0o600)


def quarantine_key(batch: str, record: dict) -> str:
    """Where a quarantine record's file is kept in SKINRISK_QUARANTINE_URL."""
    return f"{batch}/{record['received_sha256']}{Path(record['stored_as']).suffix}"


def publish(layout: StateLayout, workspace: Path, stage: str, quarantine: str | None) -> None:
    """What the stage wrote, on the remotes: refused files and DVC objects first, then the
    branch's commit. Only committed raw batches: a batch a failed try left half-written is
    removed (the rerun writes it again, identically), never committed to git."""
    raw = RawZone(layout.raw, layout.quarantine)
    committed = set(raw.committed_batches())
    for folder in (layout.raw.iterdir() if layout.raw.is_dir() else []):
        if folder.is_dir() and folder.name not in committed:
            shutil.rmtree(folder)
    entries = {b: str(raw.batch_dir(b).relative_to(workspace)) for b in committed}
    new = sorted(b for b, entry in entries.items() if not (workspace / f"{entry}.dvc").is_file())
    if quarantine is not None:
        keep_quarantine(layout, quarantine, new)
    if new:
        dvc(workspace, "add", "--quiet", *(entries[b] for b in new))
    if stage in DATA_STAGES:
        dvc(workspace, "commit", "--force", "--quiet", stage)
    paths = [p for p in ("data", "dvc.lock") if (workspace / p).exists()]
    if paths:
        git(workspace, "add", "--all", *paths)
    # Only what this stage made: a bare push would ask the remote about every object the
    # branch tracks, a cost that grows with the dataset.
    pushed = [f"{entries[b]}.dvc" for b in new] + ([stage] if stage in DATA_STAGES else [])
    try:
        if pushed:
            dvc(workspace, "push", "--quiet", *pushed)
        if paths and git(workspace, "status", "--porcelain", "--", *paths):
            git(workspace, "commit", "-q", "-m", f"{stage}: {_headline(stage, new)}")
        git(workspace, "push", "-q", "origin", BRANCH)
    except SkinriskError as exc:
        raise SkinriskError(
            f"{exc}\nthe {stage} stage ran, but what it wrote is not (wholly) on the remotes, "
            "and this disk is emptied after the task: nothing that was pushed before is lost. "
            "Check that the DVC remote (SKINRISK_DVC_REMOTE) and the git remote "
            f"(SKINRISK_GIT_REMOTE) answer, then rerun {stage}: it starts again from the "
            "branch as it was") from None


def published_batches(layout: StateLayout) -> set[str]:
    """The raw batches the data branch versions (its data/raw/<batch>.dvc entries), read from
    the git remote: on a wiped disk there is no raw zone to ask."""
    folder = local_path(git_remote(layout))
    if folder is not None and not (folder / "HEAD").is_file():
        return set()  # a folder remote the first data stage has not seeded yet
    probe = layout.home / "published-probe"
    if probe.exists():
        shutil.rmtree(probe)
    probe.mkdir(parents=True)
    git(probe, "init", "-q", "--bare")
    remote = git_remote(layout)
    if not fetch(probe, remote, remote, f"+refs/heads/{BRANCH}:refs/heads/{BRANCH}",
                 options=("--depth", "1"), missing_ok=True):
        return set()  # no data branch yet: nothing ingested
    listed = git(probe, "ls-tree", "--name-only", BRANCH, "data/raw/")
    shutil.rmtree(probe)
    return {Path(name).name.removesuffix(".dvc") for name in listed.splitlines()
            if name.endswith(".dvc")}


def _headline(stage: str, new: list[str]) -> str:
    added = f"{len(new)} raw batch(es) added" if new else "no new raw batch"
    return added if stage == "ingest" else f"outputs recorded; {added}"

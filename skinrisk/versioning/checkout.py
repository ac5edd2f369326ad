"""A task's workspace when its disk is a cache (SKINRISK_WORKSPACE=clone): the data version it
needs, checked out from the git remote, and only the DVC outputs it reads, pulled.

With the embedded default (`keep`) the workspace under SKINRISK_HOME lives on between tasks and
this does nothing. With `clone`, a task on a wiped worker (a fresh Kubernetes pod, a Celery
worker whose folders are emptied after every task) starts here:

- the data version is SKINRISK_DATA_VERSION when the DAG pinned one (the retrain DAG pins what
  its retrain check saw, so training and evaluation grade the same version even when a newer
  one lands meanwhile), else the newest `data-vN` tag on the git remote;
- every data tag is fetched with depth 1 (a version's git tree is small: the data is in DVC),
  so a task can read an older version's committed metrics (the champion's split summary);
- `dvc pull` brings only the named outputs. On a disk kept between tasks (no wipe) DVC's cache
  answers for what it holds and nothing is downloaded again; on a wiped disk every task fetches
  its inputs whole (bench/coldstart.py measures both).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from skinrisk.catalog import ASSIGNMENTS, CURATED_MANIFEST, SHARDS, VALIDATION
from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout
from skinrisk.versioning.tools import dvc, git, run
from skinrisk.versioning.workspace import BRANCH, configure_dvc, dvc_remote, git_remote

DATA_VERSION_VARIABLE = "SKINRISK_DATA_VERSION"
# Set in a worker's task processes when it could not empty its folders (celery_worker.py).
WIPE_FAILED_VARIABLE = "SKINRISK_WIPE_FAILED"
# What each reader of a data version pulls (dvc.yaml outputs, workspace-relative).
TRAINING_INPUTS = (SHARDS, ASSIGNMENTS)
EVALUATION_INPUTS = (*TRAINING_INPUTS, CURATED_MANIFEST, VALIDATION)
_TAG = re.compile(r"data-v(\d+)")


def checkout_version(layout: StateLayout, targets: Sequence[str],
                     environ: Mapping[str, str] | None = None) -> str | None:
    """Check out the data version and pull ``targets`` (workspace-relative DVC outputs) when the
    workspace is a clone; returns the tag, or None with the embedded workspace (untouched)."""
    if not layout.clones:
        return None
    env = os.environ if environ is None else environ
    require_off_disk(layout, env)
    workspace, remote = layout.workspace, git_remote(layout)
    if not (workspace / ".git").is_dir():
        workspace.mkdir(parents=True, exist_ok=True)
        git(workspace, "init", "-q")
        git(workspace, "remote", "add", "origin", remote)
    else:  # a kept disk: a clone only reads, so it simply follows the setting
        git(workspace, "remote", "set-url", "origin", remote)
    tag = env.get(DATA_VERSION_VARIABLE) or newest_tag(layout)
    if not _TAG.fullmatch(tag):
        raise SkinriskError(f"{DATA_VERSION_VARIABLE}={tag!r} is not a data version tag: "
                            "set it to data-vN, or unset it to take the newest version")
    fetch(workspace, "origin", remote, "+refs/tags/data-v*:refs/tags/data-v*",
          options=("--depth", "1", "--force"))
    if run(["git", "rev-parse", "-q", "--verify", f"refs/tags/{tag}"], workspace,
           check=False).returncode != 0:
        raise SkinriskError(f"{tag} is not in the data repository {remote}: the version "
                            "was made but not pushed (rerun `skinrisk version` where it was "
                            "made: it pushes what it made), or the worker reads another "
                            "repository than the one versions are pushed to "
                            "(SKINRISK_GIT_REMOTE on both)")
    git(workspace, "checkout", "-q", "--force", "--detach", f"refs/tags/{tag}")
    # A kept disk: rewritten only if it differs.
    configure_dvc(workspace, dvc_remote(layout), layout.dvc_cache)
    if targets:
        dvc(workspace, "pull", "--quiet", *targets)
    return tag


def checkout_head(layout: StateLayout) -> None:
    """The data branch's head and every data tag, for readers of the whole repository (`data
    status`): git only, nothing pulled; the embedded workspace is left as it is."""
    if not layout.clones:
        return
    workspace, remote = layout.workspace, git_remote(layout)
    if not (workspace / ".git").is_dir():
        workspace.mkdir(parents=True, exist_ok=True)
        git(workspace, "init", "-q")
    fetch(workspace, remote, remote, f"+refs/heads/{BRANCH}:refs/remotes/origin/{BRANCH}",
          "+refs/tags/data-v*:refs/tags/data-v*", options=("--depth", "1", "--force"))
    git(workspace, "checkout", "-q", "--force", "--detach", f"refs/remotes/origin/{BRANCH}")
    configure_dvc(workspace, dvc_remote(layout), layout.dvc_cache)


def fetch(cwd: Path, source: str, remote: str, *refspecs: str, options: Sequence[str] = (),
          missing_ok: bool = False) -> bool:
    """`git fetch` of ``refspecs`` from ``source`` (a remote's name or URL; ``remote``: its URL,
    for the message). False when ``missing_ok`` and the remote lacks the ref (nothing pushed
    yet); any other failure is one line naming the repository."""
    fetched = run(["git", "fetch", "-q", *options, source, *refspecs], cwd, check=False)
    if fetched.returncode == 0:
        return True
    if missing_ok and "couldn't find remote ref" in fetched.stderr:
        return False
    raise SkinriskError(f"the data repository {remote} did not answer `git fetch` "
                        f"({fetched.stderr.strip()[-300:]}); check SKINRISK_GIT_REMOTE and "
                        "that the git server is up, then rerun: nothing was changed")


def require_off_disk(layout: StateLayout, environ: Mapping[str, str]) -> None:
    """A cloned workspace sits on a disk that is emptied after the task: refuse to start where
    anything that must outlive the task would be written to it, or where the worker said it
    could not empty the disk (pipelines/celery_worker.py)."""
    if environ.get(WIPE_FAILED_VARIABLE):
        raise SkinriskError(f"this worker could not empty its disk before the task "
                            f"({environ[WIPE_FAILED_VARIABLE]}); the task would start on what "
                            "an earlier one left. Fix the worker's folders (SKINRISK_WIPE) and "
                            "rerun")
    home = layout.home
    on_disk = {
        "SKINRISK_DATABASE_URL (the ledger, the locks)": None if environ.get(
            "SKINRISK_DATABASE_URL") else home,
        "MLFLOW_TRACKING_URI (runs, models)": local_path(environ.get("MLFLOW_TRACKING_URI") or str(
            layout.mlflow)),
        "SKINRISK_GIT_REMOTE": local_path(git_remote(layout)),
        "SKINRISK_DVC_REMOTE": local_path(dvc_remote(layout)),
        "SKINRISK_WORK_URL": local_path(layout.work_url or ""),
    }
    wiped = sorted(name for name, path in on_disk.items()
                   if path is not None and (path == home or home in path.parents))
    if wiped:
        raise SkinriskError(
            f"SKINRISK_WORKSPACE=clone, but {'; '.join(wiped)} would keep state under "
            f"SKINRISK_HOME ({home}), which is emptied after every task: point each at a "
            "server or a folder outside it (docs/environment.md)")


def local_path(url: str) -> Path | None:
    """The folder a store URL names on this machine (None: a server)."""
    if url.startswith("sqlite:///"):  # sqlite:///relative.db, sqlite:////absolute.db
        url = url.removeprefix("sqlite:///")
    elif url.startswith("file://"):
        url = url.removeprefix("file://")
    elif "://" in url or ":" in url.split("/")[0] or not url:  # a server, or git@host:repo
        return None
    return Path(url).expanduser().resolve()


def newest_tag(layout: StateLayout) -> str:
    """The newest data-vN tag on the git remote (asked over the wire; no local copy needed)."""
    listed = run(["git", "ls-remote", "--tags", git_remote(layout), "refs/tags/data-v*"],
                 layout.workspace, check=False)
    if listed.returncode != 0:
        raise SkinriskError(f"the data repository {git_remote(layout)} did not answer "
                            f"({listed.stderr.strip()[-300:]}); check SKINRISK_GIT_REMOTE and "
                            "that the git server is up, then rerun")
    numbers = [int(m[1]) for line in listed.stdout.splitlines()
               if (m := re.search(r"refs/tags/data-v(\d+)$", line))]
    if not numbers:
        raise SkinriskError(f"the data repository {git_remote(layout)} holds no data version "
                            "yet: run the ingest DAG (or the data stages and `skinrisk "
                            "version`) first")
    return f"data-v{max(numbers)}"

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
- `dvc pull` brings only the named outputs; what the local DVC cache already holds is not
  downloaded again, which is all "cache" means here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence

from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout
from skinrisk.versioning.current import SHARDS_DIR, SPLITS_FILE
from skinrisk.versioning.tools import dvc, git, run
from skinrisk.versioning.workspace import configure_dvc, dvc_remote, git_remote

DATA_VERSION_VARIABLE = "SKINRISK_DATA_VERSION"
# What each reader of a data version pulls (dvc.yaml outputs, workspace-relative).
TRAINING_INPUTS = (SHARDS_DIR, SPLITS_FILE)
EVALUATION_INPUTS = (*TRAINING_INPUTS, "data/curated/manifest.parquet", "data/curated/validation")
_TAG = re.compile(r"data-v(\d+)")


def checkout_version(layout: StateLayout, targets: Sequence[str],
                     environ: Mapping[str, str] | None = None) -> str | None:
    """Check out the data version and pull ``targets`` (workspace-relative DVC outputs) when the
    workspace is a clone; returns the tag, or None with the embedded workspace (untouched)."""
    if not layout.clones:
        return None
    env = os.environ if environ is None else environ
    workspace, remote = layout.workspace, git_remote(layout)
    if not (workspace / ".git").is_dir():
        workspace.mkdir(parents=True, exist_ok=True)
        git(workspace, "init", "-q")
        git(workspace, "remote", "add", "origin", remote)
    tag = env.get(DATA_VERSION_VARIABLE) or newest_tag(layout)
    if not _TAG.fullmatch(tag):
        raise SkinriskError(f"{DATA_VERSION_VARIABLE}={tag!r} is not a data version tag "
                            "(data-vN)")
    fetched = run(["git", "fetch", "-q", "--depth", "1", "--force", "origin",
                   "+refs/tags/data-v*:refs/tags/data-v*"], workspace, check=False)
    if fetched.returncode != 0:
        raise SkinriskError(f"the data repository {remote} did not answer `git fetch` "
                            f"({fetched.stderr.strip()[-300:]}); check SKINRISK_GIT_REMOTE and "
                            "that the git server is up, then rerun: nothing was changed")
    if run(["git", "rev-parse", "-q", "--verify", f"refs/tags/{tag}"], workspace,
           check=False).returncode != 0:
        raise SkinriskError(f"{tag} is not in the data repository {remote}: run "
                            "`skinrisk version` first, or unset "
                            f"{DATA_VERSION_VARIABLE} to take the newest version")
    git(workspace, "checkout", "-q", "--force", "--detach", f"refs/tags/{tag}")
    local = workspace / ".dvc" / "config.local"  # a kept disk: configured for this remote?
    if not local.is_file() or f"url = {dvc_remote(layout)}\n" not in local.read_text():
        configure_dvc(workspace, dvc_remote(layout))
    if targets:
        dvc(workspace, "pull", "--quiet", *targets)
    return tag


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

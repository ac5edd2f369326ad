"""`skinrisk version`: one dataset version = DVC-tracked data + a git commit + tag data-vN.

Tracked, each as one DVC entry: every committed raw batch (immutable), the curated dataset and
the splits. A version is made only when something changed; the push (DVC objects first, then
the commit and tag) runs every time, so an interrupted push completes on the next run.
"""

from __future__ import annotations

import fcntl
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from skinrisk.catalog import SHARD_INDEX, SPLIT_SUMMARY
from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout, project_root
from skinrisk.storage.rawzone import RawZone
from skinrisk.versioning.tools import dvc, git, run
from skinrisk.versioning.workspace import BRANCH, ensure_workspace

TAG = re.compile(r"^data-v(\d+)$")
LOCK_WAIT_S = 600
DATA_STAGES = ("quality", "validate", "split", "pack")


@dataclass(frozen=True)
class VersionResult:
    tag: str
    created: bool  # False: nothing changed, the latest version stands
    commit: str


def raw_batches(layout: StateLayout) -> list[Path]:
    """Committed raw batches only: a folder a killed ingest left behind has no report.json."""
    if not (layout.workspace / SPLIT_SUMMARY).is_file():
        raise SkinriskError("no split yet: run `skinrisk split` before `skinrisk version`")
    if not (layout.workspace / SHARD_INDEX).is_file():
        raise SkinriskError("no image store yet: run `skinrisk pack` before `skinrisk version`")
    raw = RawZone(layout.raw, layout.quarantine)
    batches = [raw.batch_dir(b) for b in raw.committed_batches()]
    if not batches:
        raise SkinriskError(f"nothing to version: no ingested batch in {layout.raw}; run "
                            "`skinrisk ingest` first (`skinrisk batch pending` lists what waits)")
    return batches


def make_version(layout: StateLayout) -> VersionResult:
    with _workspace_lock(layout.locks / "version.lock"):
        workspace = ensure_workspace(layout)  # under the lock: two first runs race here too
        sync_code(workspace)
        paths = [str(p.relative_to(workspace)) for p in raw_batches(layout)]
        dvc(workspace, "add", *paths)  # each raw batch: one immutable entry
        # The data stages' outputs -> dvc.lock (train and evaluate are models, not data).
        dvc(workspace, "commit", "--force", *DATA_STAGES)
        git(workspace, "add", "--all", "data", "dvc.lock")
        tags = _data_tags(workspace)
        following = f"data-v{(max(tags) if tags else 0) + 1}"
        if git(workspace, "status", "--porcelain", "--", "data", "dvc.lock"):
            git(workspace, "commit", "-q", "-m", f"{following}: {_headline(layout)}")
        # Against the last version, not the working tree: with SKINRISK_WORKSPACE=clone each
        # data stage commits its own outputs (skinrisk/versioning/session.py), and a commit
        # made by a run killed before its tag is still a version to make.
        changed = not tags or bool(git(workspace, "diff", "--name-only", f"data-v{max(tags)}",
                                       "HEAD", "--", "data", "dvc.lock"))
        if changed:
            tag = following
            git(workspace, "tag", "-a", tag, "-m", _tag_message(tag, layout, workspace, paths))
        else:
            tag = f"data-v{max(tags)}"
        try:
            dvc(workspace, "push")
            git(workspace, "push", "-q", "origin", BRANCH, "--follow-tags")
        except SkinriskError as exc:
            raise SkinriskError(
                f"{exc}\n{tag} is made in the workspace but not yet (wholly) in the remotes; "
                "nothing is lost. Check that the DVC remote (SKINRISK_DVC_REMOTE; for S3 its "
                "endpoint and credentials) and the git remote (SKINRISK_GIT_REMOTE) answer, then "
                f"rerun `skinrisk version`: it pushes {tag} and makes no new version") from None
        return VersionResult(tag, changed, git(workspace, "rev-parse", "HEAD"))


def sync_code(workspace: Path) -> None:
    """Bring the checkout's last commit (dvc.yaml, params, code) into the data branch.

    A merge, never a rebase: data commits stay as they were made. Only where skinrisk runs
    from a checkout; in production the data branch follows the organisation's git flow.
    """
    source = project_root()
    if source is None or not (source / ".git").exists():
        return
    git(workspace, "fetch", "-q", str(source), "HEAD")
    if _is_ancestor(workspace):
        return
    git(workspace, "merge", "-q", "--no-edit", "-m", "code from the checkout's HEAD",
        "FETCH_HEAD")


def _is_ancestor(workspace: Path) -> bool:
    return run(["git", "merge-base", "--is-ancestor", "FETCH_HEAD", "HEAD"], workspace,
               check=False).returncode == 0


def _data_tags(workspace: Path) -> list[int]:
    names = git(workspace, "tag", "--list", "data-v*").split()
    return [int(m.group(1)) for n in names if (m := TAG.match(n))]


def _headline(layout: StateLayout) -> str:
    summary = json.loads((layout.workspace / SPLIT_SUMMARY).read_text())
    return ", ".join(f"{k} {v}" for k, v in summary["images"].items())


def _tag_message(tag: str, layout: StateLayout, workspace: Path, paths: list[str]) -> str:
    summary = json.loads((layout.workspace / SPLIT_SUMMARY).read_text())
    lines = [f"{tag}: {_headline(layout)}", "",
             "patients: " + ", ".join(f"{k} {v}" for k, v in summary["patients"].items()),
             "held-out share by grade: " + json.dumps(summary["heldout_share_by_grade"]),
             f"split rule: {json.dumps(summary['rule'])}", "", "dvc:"]
    for path in paths:
        out = yaml.safe_load((workspace / f"{path}.dvc").read_text())["outs"][0]
        lines.append(f"  {path}: md5 {out['md5']} ({out.get('nfiles', 1)} files, "
                     f"{out.get('size', 0)} bytes)")
    lock = yaml.safe_load((workspace / "dvc.lock").read_text()) or {}
    for stage in lock.get("stages", {}).values():
        for out in stage.get("outs", []):
            lines.append(f"  {out['path']}: md5 {out['md5']}")
    return "\n".join(lines)


class _workspace_lock:
    """One writer per workspace (DVC is not safe for concurrent writers); others wait, then
    give up with a message that says who holds it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = self.path.open("a+")
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(self.handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise SkinriskError(
                        f"another `skinrisk version` has held {self.path} for over "
                        f"{LOCK_WAIT_S} s; wait for it to finish, then rerun") from None
                time.sleep(0.5)
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(f"held since {time.strftime('%Y-%m-%dT%H:%M:%S')}\n")
        self.handle.flush()

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.handle.fileno(), fcntl.LOCK_UN)
        self.handle.close()

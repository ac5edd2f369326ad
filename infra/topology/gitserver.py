"""The stack's data repository behind a real git server process (`git daemon`), not a path the
workers share: the workers clone, fetch and push over git://, as they would to the
organisation's server (compose and k8s: SKINRISK_GIT_REMOTE, docs/environment.md).

The repository lives in the stack's state folder, outside SKINRISK_HOME, and is seeded once
with the checkout's last commit as branch `data` (what an operator does once for a real server).
git:// has no authentication: the daemon listens on loopback only, like the rest of the stack.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from skinrisk.versioning.workspace import BRANCH

if TYPE_CHECKING:
    from infra.topology.processes import Topology

REPOSITORY = "skinrisk-data.git"


def root(top: Topology) -> Path:
    return top.state / "git-server"


def url(top: Topology) -> str:
    return f"git://127.0.0.1:{top.ports['git']}/{REPOSITORY}"


def command(top: Topology) -> list[str]:
    return ["git", "daemon", "--reuseaddr", "--listen=127.0.0.1", f"--port={top.ports['git']}",
            f"--base-path={root(top)}", "--export-all", "--enable=receive-pack",
            "--informative-errors", str(root(top))]


def seed(top: Topology, checkout: Path) -> None:
    """A bare repository with the checkout's HEAD as branch `data` (once per stack)."""
    bare = root(top) / REPOSITORY
    if (bare / "HEAD").is_file():
        return
    bare.mkdir(parents=True, exist_ok=True)
    # Pushes only: history and tags cannot be rewritten or deleted through the daemon.
    for args in (["init", "-q", "--bare"], ["config", "daemon.receivepack", "true"],
                 ["config", "receive.denyNonFastForwards", "true"],
                 ["config", "receive.denyDeletes", "true"]):
        subprocess.run(["git", *args], cwd=bare, check=True, capture_output=True)
    subprocess.run(["git", "push", "-q", str(bare), f"HEAD:refs/heads/{BRANCH}"], cwd=checkout,
                   check=True, capture_output=True)


def answers(top: Topology) -> bool:
    """The daemon serves the repository (ls-remote over git://)."""
    result = subprocess.run(["git", "ls-remote", url(top), BRANCH], capture_output=True,
                            timeout=10)
    return result.returncode == 0 and bool(result.stdout.strip())

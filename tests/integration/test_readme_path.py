"""The README's worked path, run exactly as a reader would paste it.

The block is the first ```bash fence after the heading that starts with "## Worked path" (the
marker: rename that heading and this test says so instead of silently testing nothing). It runs
with `bash -euo pipefail -c`, from the repository root, with SKINRISK_HOME pointed at a
temporary folder: the block's own `export SKINRISK_HOME="${SKINRISK_HOME:-...}"` keeps it.

Only the embedded defaults are meant: variables that would send state elsewhere (every
SKINRISK_* and MLFLOW_* one a developer's shell may hold) are dropped, as a reader following the
README on a fresh machine has none of them. About 3.5 minutes on 2 cores.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.ml, pytest.mark.slow]

HEADING = "## Worked path"


def worked_path(readme: str) -> str:
    start = next((m.end() for m in re.finditer(rf"^{re.escape(HEADING)}.*$", readme, re.M)),
                 None)
    assert start is not None, f"README.md has no heading starting {HEADING!r}"
    block = re.search(r"^```bash\n(.*?)^```", readme[start:], re.M | re.S)
    assert block is not None, f"no ```bash block after {HEADING!r} in README.md"
    return block.group(1)


def test_worked_path_block_is_found_and_keeps_the_home_overridable() -> None:
    block = worked_path((REPO / "README.md").read_text())
    # The test redirects state through SKINRISK_HOME; a block that set it unconditionally
    # would write where the README says, not where the test looks.
    assert re.search(r'^export SKINRISK_HOME="\$\{SKINRISK_HOME:-', block, re.M), block
    assert "var/" not in block


@pytest.mark.timeout(1500)  # above the block's own limit, so its output tail is kept
def test_the_readme_worked_path_runs_as_written(tmp_path: Path) -> None:
    import mlflow

    block = worked_path((REPO / "README.md").read_text())
    home = tmp_path / "state"
    # A data engineer's shell names production servers: the block must not use them.
    decoys = {"MLFLOW_TRACKING_URI": "http://127.0.0.1:9", "SKINRISK_WORKSPACE": "clone",
              "SKINRISK_GIT_REMOTE": "git://127.0.0.1:9/nowhere.git",
              "SKINRISK_DVC_REMOTE": "s3://nowhere/store",
              "SKINRISK_DATABASE_URL": "postgresql://nobody@127.0.0.1:9/nowhere"}
    env = {**{k: v for k, v in os.environ.items()
              if not k.startswith(("SKINRISK_", "MLFLOW_"))}, **decoys}
    env["SKINRISK_HOME"] = str(home)
    started = time.monotonic()
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=1200, check=False)
    took = time.monotonic() - started
    tail = (result.stdout + result.stderr)[-4000:]
    assert result.returncode == 0, f"exit {result.returncode} after {took:.0f} s:\n{tail}"
    assert f"state in {home}" in result.stdout

    # data-v1 pushed to the git remote the embedded defaults use
    tags = subprocess.run(["git", "--git-dir", str(home / "git-remote.git"), "tag", "-l"],
                          capture_output=True, text=True, check=True).stdout.split()
    assert "data-v1" in tags, tags

    # an MLflow run in the store under SKINRISK_HOME, trained on data-v1
    mlflow.set_tracking_uri(f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["skinrisk"], output_format="list")
    assert any(r.data.tags.get("data.version") == "data-v1" for r in runs), runs

    # the ledger verifies on its own, after the block
    plain = {k: v for k, v in env.items() if k not in decoys}
    verify = subprocess.run([str(REPO / ".venvs" / "ml" / "bin" / "skinrisk"), "audit",
                             "verify"], cwd=REPO, env=plain, capture_output=True, text=True,
                            timeout=300, check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "chain intact" in verify.stdout
    assert (home / "audits" / "model-skinrisk-xception-1" / "audit.md").is_file()

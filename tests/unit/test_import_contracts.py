"""The import contracts in pyproject.toml ([tool.importlinter]), checked by import-linter, the
tool made for it (installed in .venvs/tools with ruff): the library never imports the commands
or the orchestrator, and each of its packages imports only the layers below it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import REPO, VENVS

LINT_IMPORTS = VENVS / "tools" / "bin" / "lint-imports"


def lint_imports(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert LINT_IMPORTS.exists(), f"{LINT_IMPORTS} missing: run `make setup`"
    env = {**os.environ, "PYTHONPATH": str(cwd), "NO_COLOR": "1"}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def test_the_code_keeps_its_import_contracts() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Contracts: 4 kept, 0 broken." in result.stdout


def test_the_checker_names_an_import_that_runs_up_the_layers(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "low.py").write_text("def f():\n    from pkg import high  # up a layer\n")
    (package / "high.py").write_text("from pkg import low\n")
    (tmp_path / ".importlinter").write_text(
        "[importlinter]\nroot_package = pkg\n\n[importlinter:contract:layers]\n"
        "name = layers\ntype = layers\nlayers =\n    pkg.high\n    pkg.low\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1
    assert "pkg.low -> pkg.high (l.2)" in result.stdout

"""The import direction (dags -> pipelines -> skinrisk), checked on the source's syntax tree.

tests/integration/test_environments.py checks the same promise at run time, in both
environments; this one names the file and line that breaks it.
"""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = {"tensorflow", "tensorflow_data_validation", "keras", "tfx_bsl", "apache_beam", "cv2",
         "mlflow", "sklearn", "airflow", "dvc", "boto3"}


def imports(path: Path, module_level_only: bool) -> list[tuple[int, str]]:
    """(line, top-level package) for each import; module level excludes function bodies."""
    tree = ast.parse(path.read_text(), str(path))
    nodes = ast.walk(tree)
    if module_level_only:
        nodes = (n for n in _module_level(tree))
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name.split(".")[0]) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def _module_level(tree: ast.AST):
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        yield node
        if not isinstance(node, ast.ClassDef):
            yield from _module_level(node)


def sources(folder: str) -> list[Path]:
    return sorted((REPO / folder).rglob("*.py"))


@pytest.mark.parametrize("path", sources("skinrisk"), ids=lambda p: str(p.relative_to(REPO)))
def test_the_library_never_imports_orchestration_or_the_edges(path: Path) -> None:
    bad = [(line, name) for line, name in imports(path, module_level_only=False)
           if name in {"airflow", "dvc", "pipelines", "dags"}]
    assert not bad, f"{path}: skinrisk/ must not import {bad}"


@pytest.mark.parametrize("path", sources("skinrisk") + sources("pipelines"),
                         ids=lambda p: str(p.relative_to(REPO)))
def test_no_heavy_import_at_module_level(path: Path) -> None:
    # Heavy libraries are imported inside the functions that need them, so the core and the
    # commands import in both environments and `--help` is fast. The Celery workers' settings
    # module is loaded by Airflow alone, in its own environment, and extends Airflow's settings.
    allowed = {"airflow"} if path == REPO / "pipelines" / "celery_worker.py" else set()
    bad = [(line, name) for line, name in imports(path, module_level_only=True)
           if name in HEAVY - allowed]
    assert not bad, f"{path}: import these inside functions: {bad}"


def test_pipelines_never_import_dags() -> None:
    for path in sources("pipelines"):
        assert "dags" not in {n for _, n in imports(path, module_level_only=False)}, path


@pytest.mark.parametrize("path", sources("dags") or [None], ids=str)
def test_dags_do_not_import_tensorflow_at_parse_time(path: Path | None) -> None:
    if path is None:
        pytest.skip(reason="dags/ holds no DAG files yet (they arrive with the DAGs issue)")
    bad = [(line, name) for line, name in imports(path, module_level_only=True)
           if name in HEAVY - {"airflow"}]
    assert not bad, f"{path}: a DAG file is parsed by the scheduler; move {bad} into the task"


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text("import os\nfrom airflow.sdk import dag\n\ndef f():\n    import tensorflow\n")
    assert imports(sample, module_level_only=True) == [(1, "os"), (2, "airflow")]
    assert (5, "tensorflow") in imports(sample, module_level_only=False)

"""The command tree is registered lazily: a command imports its own module, not all 18."""

from __future__ import annotations

import json
import subprocess
import sys

import typer.main

from pipelines.commands import COMMANDS, GROUPS, build_app, selected
from tests.conftest import REPO


def _leaves(command: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    subs = getattr(command, "commands", None)
    if subs is None:
        return [prefix]
    return [leaf for name, sub in subs.items() for leaf in _leaves(sub, (*prefix, name))]


def test_the_arguments_select_one_command_a_group_or_all() -> None:
    everything = list(COMMANDS)
    assert selected(["train", "--params", "p.yaml"]) == [("train",)]
    assert selected(["audit", "model", "champion"]) == [("audit", "model")]
    assert selected(["audit", "--help"]) == [p for p in everything if p[0] == "audit"]
    assert selected(["audit", "modle"]) == [p for p in everything if p[0] == "audit"]
    for argv in ([], ["--help"], ["--version"], ["trian"], None):
        assert selected(argv) == everything, argv


def test_the_whole_tree_holds_every_command_in_the_table_order() -> None:
    tree = typer.main.get_command(build_app())
    assert sorted(_leaves(tree)) == sorted(COMMANDS)
    top = [name for name in tree.commands if name not in GROUPS]  # type: ignore[attr-defined]
    assert top == [p[0] for p in COMMANDS if len(p) == 1]


def test_one_command_builds_only_its_branch() -> None:
    tree = typer.main.get_command(build_app(["batch", "pending"]))
    assert _leaves(tree) == [("batch", "pending")]


def test_running_a_command_imports_no_other_stage() -> None:
    code = ("import json, sys\nfrom pipelines.cli import main\nrc = main(['taxonomy'])\n"
            "print(json.dumps([rc, sorted(m for m in sys.modules if m.startswith('pipelines.'))"
            "]))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, check=True)
    rc, modules = json.loads(result.stdout.splitlines()[-1])
    assert rc == 0
    assert modules == ["pipelines.cli", "pipelines.commands", "pipelines.common",
                       "pipelines.interrupt", "pipelines.taxonomy"]

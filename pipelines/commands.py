"""The `skinrisk` command tree: every stage and tool as a subcommand (each also runs on its own).

Commands are registered lazily: `build_app(argv)` imports only the command module(s) the
arguments name (`skinrisk train ...` imports pipelines.train, not the other 17 stages), and every
one when the arguments name none (`skinrisk --help`, a typo, which click then answers with the
full list). The entry point (pipelines.cli) builds the tree under its Ctrl-C guard.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Annotated

import typer

from pipelines.common import out
from skinrisk import __version__

HELP = "Keeps a skin-tumor risk grader current: ingest, validate, version, retrain, gate, audit."
# Subcommand groups: name -> help.
GROUPS = {
    "batch": "Hospital batches in the landing zone.",
    "data": "Dataset versions.",
    "audit": "The audit trail: verify the ledger, trace models and images, reproduce a model.",
    "db": "The metadata database (PostgreSQL, when SKINRISK_DATABASE_URL is set).",
}
# Command path -> "pipelines module:function", in the order `skinrisk --help` lists them.
COMMANDS: dict[tuple[str, ...], str] = {
    ("taxonomy",): "taxonomy:command",
    ("synth",): "synth:command",
    ("import-pad",): "import_pad:command",
    ("ingest",): "ingest:command",
    ("quality",): "quality:command",
    ("validate",): "validate:command",
    ("split",): "split:command",
    ("pack",): "pack:command",
    ("version",): "version:command",
    ("train",): "train:command",
    ("evaluate",): "evaluate:command",
    ("promote",): "promote:command",
    ("retrain-check",): "retrain_check:command",
    ("report",): "report:command",
    ("rollback",): "promote:rollback_command",
    ("data", "status"): "data_status:command",
    ("demo",): "demo:command",
    ("batch", "check"): "batch_check:command",
    ("batch", "pending"): "ingest:pending_command",
    ("audit", "verify"): "audit:verify_command",
    ("audit", "model"): "audit:model_command",
    ("audit", "image"): "audit:image_command",
    ("audit", "reproduce"): "audit:reproduce_command",
    ("audit", "publish"): "audit:publish_command",
    ("db", "setup"): "db:setup_command",
    ("db", "import-embedded"): "db:import_command",
}


def build_app(argv: Sequence[str] | None = None) -> typer.Typer:
    """The command tree with the commands ``argv`` names registered (None: every one)."""
    app = typer.Typer(name="skinrisk", no_args_is_help=True, add_completion=False, help=HELP)
    app.callback()(_root)
    paths = selected(argv)
    groups = {name: typer.Typer(no_args_is_help=True, help=text) for name, text in GROUPS.items()
              if any(path[0] == name for path in paths if len(path) == 2)}
    for name, group in groups.items():
        app.add_typer(group, name=name)
    for path in paths:
        module, _, function = COMMANDS[path].partition(":")
        command = getattr(importlib.import_module(f"pipelines.{module}"), function)
        (groups[path[0]] if len(path) == 2 else app).command(path[-1])(command)
    return app


def selected(argv: Sequence[str] | None) -> list[tuple[str, ...]]:
    """The command paths ``argv`` names: one command, a group's commands, or all of them."""
    words = [] if argv is None else [a for a in argv[:2] if not a.startswith("-")]
    if words[:1] and (words[0],) in COMMANDS:
        return [(words[0],)]
    if words[:1] and words[0] in GROUPS:
        if tuple(words[:2]) in COMMANDS:
            return [tuple(words[:2])]
        return [path for path in COMMANDS if path[0] == words[0]]
    return list(COMMANDS)


def _version(value: bool) -> None:
    if value:
        out.print(f"skinrisk {__version__}")
        raise typer.Exit()


def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Exit codes: 0 ok, 1 failure (one line says why and what to do; a command that needs the
    ml environment says so), 2 usage error, 130 interrupted (Ctrl-C: nothing was left
    half-written; rerun the same command to continue)."""

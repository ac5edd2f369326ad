"""Tables in docs/ rendered from the code, so that they cannot drift from it.

Each table sits in its file between `<!-- generated: NAME -->` and `<!-- end generated -->`;
tests/unit/test_docs_reference.py fails when a file's table differs from what this renders.

    python -m pipelines.reference              print the `skinrisk` command table
    python -m pipelines.reference NAME         print one table by name (see TABLES)
    python -m pipelines.reference --write      rewrite every table in its file

Only the standard library, typer's command tree and skinrisk's core are imported: it runs in
both environments, so the unit test does too.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
END = "<!-- end generated -->"


def _cell(text: str) -> str:
    """One table cell: one line, no column break, no text a Markdown renderer eats as HTML."""
    text = " ".join(text.split())
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _commands() -> Iterator[tuple[list[str], object]]:
    """(path, click command) for every leaf command, in the order the app registers them."""
    import typer.main

    from pipelines.commands import build_app

    def walk(group: object, path: list[str]) -> Iterator[tuple[list[str], object]]:
        for name, command in group.commands.items():  # type: ignore[attr-defined]
            if hasattr(command, "commands"):
                yield from walk(command, [*path, name])
            else:
                yield [*path, name], command

    yield from walk(typer.main.get_command(build_app()), [])


def _usage(command: object) -> str:
    parts = []
    for param in command.params:  # type: ignore[attr-defined]
        if param.param_type_name == "argument":
            parts.append(param.name.upper() + ("..." if param.nargs == -1 else ""))
        else:
            parts.append("/".join([max(param.opts, key=len), *param.secondary_opts]))
    return " ".join(f"`{p}`" for p in parts)


def commands_table() -> str:
    """Every `skinrisk` command, its arguments and options, and the first paragraph of its help."""
    rows = ["| command | arguments and options | what it does |", "|---|---|---|"]
    for path, command in _commands():
        help_text = (command.help or "").split("\n\n")[0]  # type: ignore[attr-defined]
        rows.append(f"| `skinrisk {' '.join(path)}` | {_usage(command)} | {_cell(help_text)} |")
    return "\n".join(rows)


def reasons_table() -> str:
    """Every quarantine reason code with what the sender (or a reviewer) should do."""
    from skinrisk.reasons import Reason

    rows = ["| code | what to do |", "|---|---|"]
    rows += [f"| `{reason.value}` | {_cell(reason.advice)} |" for reason in Reason]
    return "\n".join(rows)


def columns_table() -> str:
    """The manifest's columns, in their order in the header."""
    from skinrisk.batch import COLUMNS

    rows = ["| column | required | meaning |", "|---|---|---|"]
    rows += [f"| `{c.name}` | {'yes' if c.required else 'no'} | {_cell(c.meaning)} |"
             for c in COLUMNS]
    return "\n".join(rows)


@dataclass(frozen=True)
class Table:
    name: str
    doc: Path
    render: Callable[[], str]

    @property
    def begin(self) -> str:
        return f"<!-- generated: {self.name} -->"


TABLES = (
    Table("skinrisk commands", REPO / "docs" / "cli.md", commands_table),
    Table("reason codes", REPO / "docs" / "stages.md", reasons_table),
    Table("manifest columns", REPO / "docs" / "batch-format.md", columns_table),
)


def shown(path: Path) -> str:
    """A path as messages name it: relative to the repository when inside it."""
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def _block(table: Table, text: str) -> re.Match[str]:
    match = re.search(re.escape(table.begin) + r"\n(.*?)\n?" + re.escape(END), text, re.S)
    if match is None:
        raise ValueError(f"{shown(table.doc)} lacks the markers {table.begin!r} ... {END!r}")
    return match


def written(table: Table) -> str:
    """The table as its file holds it now, between the markers."""
    return _block(table, table.doc.read_text()).group(1)


def write(table: Table) -> bool:
    """Put the rendered table between its markers; True when the file changed."""
    text = table.doc.read_text()
    match = _block(table, text)
    new = f"{text[:match.start()]}{table.begin}\n{table.render()}\n{END}{text[match.end():]}"
    if new == text:
        return False
    table.doc.write_text(new)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.reference",
                                     description="Render the tables docs/ takes from the code.")
    parser.add_argument("name", nargs="?", default=TABLES[0].name,
                        choices=[t.name for t in TABLES], help="the table to print")
    parser.add_argument("--write", action="store_true",
                        help="rewrite every table between its markers in docs/")
    args = parser.parse_args(argv)
    if args.write:
        for table in TABLES:
            changed = write(table)
            print(f"{shown(table.doc)}: {table.name} "
                  f"{'rewritten' if changed else 'already current'}")
        return 0
    print(next(t for t in TABLES if t.name == args.name).render())
    return 0


if __name__ == "__main__":
    sys.exit(main())

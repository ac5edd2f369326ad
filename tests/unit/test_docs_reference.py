"""The tables docs/ takes from the code match the code (pipelines/reference.py renders them).

When one fails, the code changed and the doc did not: rewrite the tables with
`.venvs/ml/bin/python -m pipelines.reference --write` and commit the result. It imports only
typer's command tree and skinrisk's core, so it runs in both environments.
"""

from __future__ import annotations

import pytest

from pipelines import reference


@pytest.mark.parametrize("table", reference.TABLES, ids=lambda t: t.name)
def test_the_generated_table_in_docs_matches_the_code(table: reference.Table) -> None:
    written = reference.written(table)
    assert written == table.render(), (
        f"{reference.shown(table.doc)}: the '{table.name}' table differs from the "
        "code; run `.venvs/ml/bin/python -m pipelines.reference --write`")


def test_the_command_table_lists_every_command_once() -> None:
    rows = [line for line in reference.commands_table().splitlines()
            if line.startswith("| `skinrisk ")]
    names = [row.split("`")[1] for row in rows]
    assert len(names) == len(set(names))
    for name in ("skinrisk ingest", "skinrisk audit verify", "skinrisk db import-embedded"):
        assert name in names


def test_a_table_without_markers_is_named(tmp_path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("# no markers here\n")
    table = reference.Table("x", doc, lambda: "| a |")
    with pytest.raises(ValueError, match="lacks the markers"):
        reference.written(table)


def test_write_puts_the_table_between_the_markers_and_keeps_the_rest(tmp_path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("before\n<!-- generated: x -->\nold\n<!-- end generated -->\nafter\n")
    table = reference.Table("x", doc, lambda: "| new |")
    assert reference.write(table) is True
    assert doc.read_text() == ("before\n<!-- generated: x -->\n| new |\n"
                               "<!-- end generated -->\nafter\n")
    assert reference.write(table) is False

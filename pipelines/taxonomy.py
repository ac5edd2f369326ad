"""`skinrisk taxonomy`: the paper's types, grades and advice, and every code skinrisk knows."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from pipelines.common import out, run_app
from skinrisk.taxonomy import describe_taxonomy


def command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole mapping as JSON.")]
    = False,
) -> None:
    """Show the 10 tumor types in 3 risk grades, and the codes that map to them."""
    mapping = describe_taxonomy()
    if as_json:
        print(json.dumps(mapping, indent=2))
        return
    grades = Table(title="Risk grades (Zhao et al. 2019)")
    # Codes and type keys are typed into manifests: each on a line of its own, whole; the prose
    # columns wrap around them on a narrow terminal.
    for column in ("grade", "description", "tumor types", "advice"):
        grades.add_column(column, no_wrap=column in ("grade", "tumor types"))
    for g in mapping["grades"]:  # type: ignore[union-attr]
        grades.add_row(g["grade"], g["description"], "\n".join(g["tumor_types"]), g["advice"])
    codes = Table(title="Codes")
    for column in ("code", "vocabulary", "tumor type", "grade", "flags"):
        codes.add_column(column, no_wrap=column != "flags", overflow="fold")
    for c in mapping["codes"]:  # type: ignore[union-attr]
        codes.add_row(c["code"], c["vocabulary"], c["tumor_type"] or "—", c["grade"],
                      ", ".join(c["flags"]))
    out.print(grades, codes)
    out.print("Type keys (e.g. malignant_melanoma) are codes too. Out of distribution: "
              + ", ".join(t["key"] for t in mapping["out_of_distribution_types"]))  # type: ignore


def main(argv: list[str] | None = None) -> int:
    return run_app(command, argv, prog_name="skinrisk taxonomy")


if __name__ == "__main__":
    raise SystemExit(main())

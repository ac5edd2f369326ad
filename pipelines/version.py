"""`skinrisk version`: a dataset version (DVC + git commit + tag data-vN), pushed."""

from __future__ import annotations

from pipelines.common import out, run_app
from skinrisk.layout import StateLayout
from skinrisk.versioning.version import make_version


def command() -> None:
    """Version the raw batches, curated dataset and splits; no-op when nothing changed."""
    result = make_version(StateLayout.from_env())
    verb = "made" if result.created else "unchanged, still"
    out.print(f"version: {verb} [bold]{result.tag}[/] (commit {result.commit[:12]}), pushed")


def main(argv: list[str] | None = None) -> int:
    return run_app(command, argv, prog_name="skinrisk version")


if __name__ == "__main__":
    raise SystemExit(main())

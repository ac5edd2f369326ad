"""`skinrisk version`: a dataset version (DVC + git commit + tag data-vN), pushed."""

from __future__ import annotations

import json

import typer

from pipelines.common import out, run_app, working
from skinrisk import ledger
from skinrisk.audit.archive import ledger_archive, publish_ledger
from skinrisk.layout import StateLayout
from skinrisk.ledger import Event
from skinrisk.versioning.current import current_version
from skinrisk.versioning.session import data_session
from skinrisk.versioning.version import make_version

JSON_OPTION = typer.Option(False, "--json", help="End with one JSON line: tag, commit, "
                           "created, DVC hashes (the Airflow asset event's extra).")


def command(as_json: bool = JSON_OPTION) -> None:
    """Version the raw batches, curated dataset and splits; no-op when nothing changed."""
    layout = StateLayout.from_env()
    with data_session(layout, "version", publishes=False):  # it pushes its commit and tag
        _version(layout, as_json)


def _version(layout: StateLayout, as_json: bool) -> None:
    with working("version: DVC hashes, git commit and tag, push"):
        result = make_version(layout)
    # Recorded once per tag, also by the rerun of a run killed between its tag and this line.
    if not ledger.recorded(layout, Event.DATASET_VERSION, "tag", result.tag):
        made = current_version(layout)
        ledger.record(layout, Event.DATASET_VERSION, {"tag": result.tag, "commit": result.commit,
                                                  "hashes": made.hashes})
    # The ledger goes where the data goes (on every run: a killed run's copy is made now).
    publish_ledger(layout, ledger_archive(layout))
    verb = "made" if result.created else "unchanged, still"
    out.print(f"version: {verb} [bold]{result.tag}[/] (commit {result.commit[:12]}), pushed")
    if as_json:
        version = current_version(layout)
        print(json.dumps({"tag": result.tag, "commit": result.commit, "created": result.created,
                          "shards_md5": version.shards_md5, "splits_md5": version.splits_md5,
                          "hashes": version.hashes}))


def main(argv: list[str] | None = None) -> int:
    return run_app(command, argv, prog_name="skinrisk version")


if __name__ == "__main__":
    raise SystemExit(main())

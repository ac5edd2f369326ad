"""`skinrisk data status`: versions, counts, and whether the remote really holds every object."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipelines.common import fail, out, run_app
from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout
from skinrisk.versioning.remote import (
    RemoteCheck,
    check_local_remote,
    check_s3_remote,
    delete_objects,
)
from skinrisk.versioning.tools import dvc, git
from skinrisk.versioning.workspace import dvc_remote


def command(
    repair: Annotated[bool, typer.Option(help="Delete damaged objects (and the listing of "
                      "their directory) from the remote, push again, and check again.")] = False,
) -> int:
    """List data versions and counts; re-hash every object in the DVC remote (exit 1 if bad)."""
    layout = StateLayout.from_env()
    workspace = layout.workspace
    if not (workspace / ".git").is_dir():
        raise SkinriskError("no dataset version yet: run `skinrisk version`")
    tags = git(workspace, "tag", "--list", "data-v*", "--sort=v:refname",
               "--format=%(refname:short) %(creatordate:iso-strict) %(subject)").splitlines()
    versions = Table(title="dataset versions")
    for column in ("tag", "made", "what"):
        versions.add_column(column)
    for line in tags:
        tag, made, subject = [*line.split(" ", 2), "", ""][:3]
        versions.add_row(tag, made, subject)
    out.print(versions)
    summary = json.loads((layout.splits / "summary.json").read_text())
    out.print(_counts(summary))
    remote = dvc_remote(layout)
    check = _check(workspace, remote)
    if repair and not check.ok:
        delete_objects(remote, check.to_delete)
        dvc(workspace, "push")
        out.print(f"repair: {len(check.to_delete)} damaged object(s) removed, pushed again")
        check = _check(workspace, remote)
    for label, items in (("missing", check.missing), ("corrupt", check.corrupt)):
        for item in items[:20]:
            fail(f"remote {remote}: {label} object {item}")
    out.print(f"remote {remote}: {check.objects} objects re-hashed, {len(check.missing)} "
              f"missing, {len(check.corrupt)} corrupt"
              + ("" if check.ok else " — `skinrisk data status --repair` pushes them again"))
    return 0 if check.ok else 1


def _check(workspace: Path, remote: str) -> RemoteCheck:
    if remote.startswith("s3://"):
        return check_s3_remote(workspace, remote)
    return check_local_remote(workspace, Path(remote))


def _counts(summary: dict) -> Table:
    table = Table(title="current version: images per split")
    table.add_column("by")
    splits = list(summary["images"])
    for split in splits:
        table.add_column(split, justify="right")
    for section in ("by_grade", "by_source", "by_fitzpatrick"):
        keys = sorted({k for s in splits for k in summary[section][s]})
        for key in keys:
            table.add_row(f"{section[3:]} {'unknown' if key == 'None' else key}",
                          *(str(summary[section][s].get(key, 0)) for s in splits))
    return table


def main(argv: list[str] | None = None) -> int:
    return run_app(command, argv, prog_name="skinrisk data status")


if __name__ == "__main__":
    raise SystemExit(main())

"""`skinrisk data status`: versions, counts, and whether the remote really holds every object."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from pipelines.common import fail, out, run_app
from skinrisk.catalog import SPLIT_SUMMARY
from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout
from skinrisk.storage.objects import open_store
from skinrisk.versioning.checkout import checkout_head
from skinrisk.versioning.remote import check_remote, repair_remote
from skinrisk.versioning.tools import dvc, git
from skinrisk.versioning.workspace import dvc_remote


def command(
    repair: Annotated[bool, typer.Option(help="Upload missing objects and replace damaged "
                      "ones from the DVC cache (their bytes kept under corrupt/ in the remote, "
                      "nothing deleted), push again, and check again.")] = False,
) -> int:
    """List data versions and counts; re-hash every object in the DVC remote (exit 1 if bad)."""
    layout = StateLayout.from_env()
    workspace = layout.workspace
    if layout.clones:  # a scratch disk (an ops pod): the branch's head, from the git server
        if repair:
            raise SkinriskError("--repair uploads from a workspace's DVC cache, and with "
                                "SKINRISK_WORKSPACE=clone no workspace outlives its task: "
                                "restore the DVC remote's bucket from its backup (infra/README.md"
                                ", \"What lives where\"), then check again without --repair")
        checkout_head(layout)
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
    summary = json.loads((layout.workspace / SPLIT_SUMMARY).read_text())
    out.print(_counts(summary))
    remote = dvc_remote(layout)
    store = open_store(remote)
    check = check_remote(workspace, store)
    if repair and not check.ok:
        done = repair_remote(workspace, store, check)
        dvc(workspace, "push")
        out.print(f"repair: {done.uploaded} missing object(s) uploaded, {done.replaced} damaged "
                  f"replaced (kept under {store.location}corrupt/), pushed again")
        check = check_remote(workspace, store)
    for label, items in (("missing", check.missing), ("corrupt", check.corrupt)):
        for item in items[:20]:
            fail(f"remote {remote}: {label} object {item}")
    out.print(f"remote {remote}: {check.objects} objects re-hashed, {len(check.missing)} "
              f"missing, {len(check.corrupt)} corrupt"
              + ("" if check.ok else " — `skinrisk data status --repair` pushes them again"))
    return 0 if check.ok else 1


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

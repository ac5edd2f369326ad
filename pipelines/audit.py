"""`skinrisk audit ...`: verify the ledger; trace a model back, or an image forward; reproduce.

Traces are written as audit.json (everything, image ids included) and audit.md (for a reader)
under $SKINRISK_HOME/audits/<subject>/ unless --out says elsewhere. A trace whose independent
records disagree, or a reproduction outside its tolerance, exits 1.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer

from pipelines.common import fail, out, run_app, working
from skinrisk import ledger
from skinrisk.layout import StateLayout
from skinrisk.localfs import atomic_write, write_json
from skinrisk.permissions import require_private_zones
from skinrisk.versioning.checkout import checkout_version

MODEL_ARGUMENT = typer.Argument(..., help="Version number, alias (champion, challenger), "
                                "skinrisk-xception/<N> or skinrisk-xception@<alias>.")
IMAGE_ARGUMENT = typer.Argument(..., help="Image id (or a unique prefix of one, 8+ hex "
                                "characters) or the file name as the hospital sent it.")
TOLERANCE_OPTION = typer.Option(
    0.02, "--tolerance", min=0.0, help="Largest absolute difference allowed per figure (AUC, "
    "accuracy). CPU to CPU on the same build reproduces exactly; GPU kernels and other "
    "machines do not.")
WORKDIR_OPTION = typer.Option(None, "--workdir", help="Scratch folder (default "
                              "$SKINRISK_HOME/reproduce/<model>-<time>); kept for inspection.")
OUT_OPTION = typer.Option(None, "--out", help="Folder for audit.json and audit.md "
                          "(default $SKINRISK_HOME/audits/<subject>).")


def verify_command() -> int:
    """Check the hash chain and that it still begins with its newest archived copy; name the
    first bad entry; exit 1 if any."""
    from skinrisk.audit.archive import check_ledger_anchor, ledger_archive

    layout = StateLayout.from_env()
    path = ledger.describe(layout)
    verdict = ledger.check(layout)
    if not verdict.ok:
        total = sum(1 for line in ledger.lines(layout) if line.strip())
        fail(f"{path}: entry {verdict.first_bad} of {total}: {verdict.why}")
        return 1
    anchor = check_ledger_anchor(layout, ledger_archive(layout))
    if not anchor.ok:
        fail(f"{path}: entry {anchor.first_bad}: {anchor.why}")
        return 1
    out.print(f"audit: {path}: {verdict.entries} entries, chain intact; " + (
        f"entries 1-{anchor.entries} match the archived copy {anchor.snapshot}"
        if anchor.snapshot else "no archived copy yet (`skinrisk audit publish`)"))
    return 0


def publish_command() -> None:
    """Copy the ledger, write-once, beside the dataset versions (SKINRISK_LEDGER_ARCHIVE)."""
    from skinrisk.audit.archive import ledger_archive, publish_ledger

    layout = StateLayout.from_env()
    location = ledger_archive(layout)
    name = publish_ledger(layout, location)
    out.print(f"audit: ledger archived as {location}{name}" if name else
              "audit: the ledger is empty; nothing to archive")


def model_command(ref: str = MODEL_ARGUMENT, folder: Path | None = OUT_OPTION) -> int:
    """A model's whole chain: data version, images per set, params, metrics, decisions."""
    from skinrisk.audit.model import trace_model
    from skinrisk.audit.render import model_markdown
    from skinrisk.tracking import client
    from skinrisk.versioning.workspace import dvc_remote

    layout = StateLayout.from_env()
    checkout_version(layout, ())  # clone mode: every data tag, from the git server
    registry = client(layout)
    with working(f"audit: tracing {ref} through the ledger, MLflow and every data version"):
        trace = trace_model(layout, registry, ref, dvc_remote(layout))
    paths = _write(layout, folder, trace, model_markdown(trace))
    promo = trace["promotion"]
    out.print(f"audit: {trace['audit']['subject']} trained on {trace['data']['version']} "
              f"({trace['images']['fit']['images']} images fitted); "
              + (f"promoted by {promo['by']} at {promo['at']}" if promo else "never promoted"))
    return _verdict(trace["checks"], paths)


def image_command(query: str = IMAGE_ARGUMENT, folder: Path | None = OUT_OPTION) -> int:
    """An image's batch, quality verdict, dataset versions and the models that used it."""
    from skinrisk.audit.image import check_query, trace_image
    from skinrisk.audit.render import image_markdown
    from skinrisk.tracking import client
    from skinrisk.versioning.workspace import dvc_remote

    check_query(query)
    layout = StateLayout.from_env()
    require_private_zones(layout)  # a file name is looked up in the private store
    checkout_version(layout, ())  # clone mode: every data tag, from the git server
    trace = trace_image(layout, client(layout), query, dvc_remote(layout))
    paths = _write(layout, folder, trace, image_markdown(trace))
    for image in trace["images"]:
        used = sorted({f"{m['model']} ({m['role']})" for m in image["models"]})
        out.print(f"audit: image {image['image_id'] or '(quarantined at ingest)'} from batch "
                  f"{image['batch_id']}: in {len(image['versions'])} dataset version(s); "
                  f"{'; '.join(used) or 'used by no model'}")
    return _verdict([], paths)


def reproduce_command(ref: str = MODEL_ARGUMENT, tolerance: float = TOLERANCE_OPTION,
                      workdir: Path | None = WORKDIR_OPTION,
                      folder: Path | None = OUT_OPTION) -> int:
    """Retrain and re-evaluate a model from its recorded code, data and params; compare."""
    import importlib.util
    import time

    from skinrisk.audit.render import reproduce_markdown
    from skinrisk.audit.reproduce import default_source, reproduce
    from skinrisk.errors import SkinriskError
    from skinrisk.tracking import client as tracking_client
    from skinrisk.versioning.workspace import dvc_remote, git_remote

    if importlib.util.find_spec("tensorflow") is None:
        raise SkinriskError("audit reproduce trains a model: run it from the ml environment "
                            "(.venvs/ml/bin/skinrisk)")
    layout = StateLayout.from_env()
    client = tracking_client(layout)
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", ref)
    scratch = workdir or layout.home / "reproduce" / f"{name}-{time.strftime('%Y%m%dT%H%M%S')}"
    if scratch.exists() and any(scratch.iterdir()):
        raise SkinriskError(f"{scratch} is not empty: give an empty or new --workdir")
    scratch.mkdir(parents=True, exist_ok=True)
    trace = reproduce(layout, client, ref, default_source(git_remote(layout),
                                                          dvc_remote(layout)),
                      scratch, tolerance, say=out.print)
    paths = _write(layout, folder, trace, reproduce_markdown(trace))
    worst = max((r["difference"] or 0.0) for r in trace["figures"])
    out.print(f"audit: reproduced {trace['audit']['subject']}: largest difference {worst:.6f} "
              f"(tolerance {tolerance}) over {len(trace['figures'])} figures")
    return _verdict(trace["checks"], paths)


def _write(layout: StateLayout, folder: Path | None, trace: dict[str, Any], markdown: str
           ) -> tuple[Path, Path]:
    subject = re.sub(r"[^A-Za-z0-9._-]+", "-", trace["audit"]["subject"])
    target = folder or layout.home / "audits" / f"{trace['audit']['kind']}-{subject}"
    write_json(target / "audit.json", trace)
    atomic_write(target / "audit.md", (markdown + "\n").encode())
    return target / "audit.json", target / "audit.md"


def _verdict(checks: list[dict[str, Any]], paths: tuple[Path, Path]) -> int:
    bad = [c for c in checks if not c["ok"]]
    for check in bad:
        fail(f"audit: cross-check failed: {check['what']}: {check['detail']}")
    out.print(f"audit: {paths[1]} (JSON: {paths[0]})" + (
        f"; {len(checks)} cross-checks hold" if checks and not bad else ""))
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    return run_app(verify_command, argv, prog_name="skinrisk audit verify")


if __name__ == "__main__":
    raise SystemExit(main())

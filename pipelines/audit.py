"""`skinrisk audit ...`: verify the ledger; trace a model back, or an image forward; reproduce.

Traces are written as audit.json (everything, image ids included) and audit.md (for a reader)
under $SKINRISK_HOME/audits/<subject>/ unless --out says elsewhere. A trace whose independent
records disagree, or a reproduction outside its tolerance, exits 1.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import typer

from pipelines.common import fail, out, run_app
from skinrisk.layout import StateLayout
from skinrisk.ledger import ledger_path, verify
from skinrisk.localfs import atomic_write

MODEL_ARGUMENT = typer.Argument(..., help="Version number, alias (champion, challenger), "
                                "skinrisk-xception/<N> or skinrisk-xception@<alias>.")
IMAGE_ARGUMENT = typer.Argument(..., help="Image id (or a unique prefix of one, 8+ hex "
                                "characters) or the file name as the hospital sent it.")
OUT_OPTION = typer.Option(None, "--out", help="Folder for audit.json and audit.md "
                          "(default $SKINRISK_HOME/audits/<subject>).")


def verify_command() -> int:
    """Check the hash chain; name the first bad entry; exit 1 if any."""
    path = ledger_path(StateLayout.from_env())
    verdict = verify(path)
    if not verdict.ok:
        fail(f"{path}: entry {verdict.first_bad} of {verdict.entries}: {verdict.why}")
        return 1
    out.print(f"audit: {path}: {verdict.entries} entries, chain intact")
    return 0


def model_command(ref: str = MODEL_ARGUMENT, folder: Path | None = OUT_OPTION) -> int:
    """A model's whole chain: data version, images per set, params, metrics, decisions."""
    import mlflow

    from skinrisk.audit.model import trace_model
    from skinrisk.audit.render import model_markdown
    from skinrisk.tracking import connect
    from skinrisk.versioning.workspace import dvc_remote

    layout = StateLayout.from_env()
    connect(layout)
    trace = trace_model(layout, mlflow.MlflowClient(), ref, dvc_remote(layout))
    paths = _write(layout, folder, trace, model_markdown(trace))
    promo = trace["promotion"]
    out.print(f"audit: {trace['audit']['subject']} trained on {trace['data']['version']} "
              f"({trace['images']['fit']['images']} images fitted); "
              + (f"promoted by {promo['by']} at {promo['at']}" if promo else "never promoted"))
    return _verdict(trace["checks"], paths)


def image_command(query: str = IMAGE_ARGUMENT, folder: Path | None = OUT_OPTION) -> int:
    """An image's batch, quality verdict, dataset versions and the models that used it."""
    import mlflow

    from skinrisk.audit.image import trace_image
    from skinrisk.audit.render import image_markdown
    from skinrisk.tracking import connect
    from skinrisk.versioning.workspace import dvc_remote

    layout = StateLayout.from_env()
    connect(layout)
    trace = trace_image(layout, mlflow.MlflowClient(), query, dvc_remote(layout))
    paths = _write(layout, folder, trace, image_markdown(trace))
    for image in trace["images"]:
        used = sorted({f"{m['model']} ({m['role']})" for m in image["models"]})
        out.print(f"audit: image {image['image_id'] or '(quarantined at ingest)'} from batch "
                  f"{image['batch_id']}: in {len(image['versions'])} dataset version(s); "
                  f"{'; '.join(used) or 'used by no model'}")
    return _verdict([], paths)


def _write(layout: StateLayout, folder: Path | None, trace: dict[str, Any], markdown: str
           ) -> tuple[Path, Path]:
    subject = re.sub(r"[^A-Za-z0-9._-]+", "-", trace["audit"]["subject"])
    target = folder or layout.home / "audits" / f"{trace['audit']['kind']}-{subject}"
    atomic_write(target / "audit.json", (json.dumps(trace, indent=2) + "\n").encode())
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

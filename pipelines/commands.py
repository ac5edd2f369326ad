"""The `skinrisk` command tree: every stage and tool as a subcommand (each also runs on its own).

Importing this imports every stage's command module; the entry point (pipelines.cli) does that
under its Ctrl-C guard.
"""

from __future__ import annotations

from typing import Annotated

import typer

from pipelines import (
    audit,
    batch_check,
    data_status,
    db,
    demo,
    evaluate,
    import_pad,
    ingest,
    pack,
    promote,
    quality,
    report,
    retrain_check,
    split,
    synth,
    taxonomy,
    train,
    validate,
    version,
)
from pipelines.common import out
from skinrisk import __version__

app = typer.Typer(
    name="skinrisk", no_args_is_help=True, add_completion=False,
    help="Keeps a skin-tumor risk grader current: ingest, validate, version, retrain, gate, audit.",
)
batch_app = typer.Typer(no_args_is_help=True, help="Hospital batches in the landing zone.")
app.add_typer(batch_app, name="batch")
data_app = typer.Typer(no_args_is_help=True, help="Dataset versions.")
app.add_typer(data_app, name="data")
audit_app = typer.Typer(no_args_is_help=True, help="The audit trail: verify the ledger, trace "
                        "models and images, reproduce a model.")
app.add_typer(audit_app, name="audit")
db_app = typer.Typer(no_args_is_help=True, help="The metadata database (PostgreSQL, when "
                     "SKINRISK_DATABASE_URL is set).")
app.add_typer(db_app, name="db")

app.command("taxonomy")(taxonomy.command)
app.command("synth")(synth.command)
app.command("import-pad")(import_pad.command)
app.command("ingest")(ingest.command)
app.command("quality")(quality.command)
app.command("validate")(validate.command)
app.command("split")(split.command)
app.command("pack")(pack.command)
app.command("version")(version.command)
app.command("train")(train.command)
app.command("evaluate")(evaluate.command)
app.command("promote")(promote.command)
app.command("retrain-check")(retrain_check.command)
app.command("report")(report.command)
app.command("rollback")(promote.rollback_command)
data_app.command("status")(data_status.command)
app.command("demo")(demo.command)
batch_app.command("check")(batch_check.command)
batch_app.command("pending")(ingest.pending_command)
audit_app.command("verify")(audit.verify_command)
audit_app.command("model")(audit.model_command)
audit_app.command("image")(audit.image_command)
audit_app.command("reproduce")(audit.reproduce_command)
audit_app.command("publish")(audit.publish_command)
db_app.command("setup")(db.setup_command)
db_app.command("import-embedded")(db.import_command)


def _version(value: bool) -> None:
    if value:
        out.print(f"skinrisk {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Exit codes: 0 ok, 1 failure (one line says why and what to do; a command that needs the
    ml environment says so), 2 usage error, 130 interrupted (Ctrl-C: nothing was left
    half-written; rerun the same command to continue)."""


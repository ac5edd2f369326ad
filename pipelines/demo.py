"""`skinrisk demo`: the main job on the embedded defaults, through the real Airflow DAGs.

Round 1 lands a synthetic cohort and the PAD-UFES-20 sample in the local landing zone and runs
`skinrisk_ingest` then `skinrisk_retrain` with `airflow dags test` (SQLite metadata, MLflow on
SQLite, a folder DVC remote): the first model meets the absolute floors or not. Round 2 lands a
second delivery and runs both again: a challenger is trained and the gate decides against the
champion. A second `make demo` reuses the state: batches already landed are kept, nothing is
ingested twice, and the retrain check skips training when no new images arrived
(`make clean-state` starts over).
"""

from __future__ import annotations

import json
from pathlib import Path

from pipelines.airflow_local import LocalAirflow
from pipelines.common import PARAMS_OPTION, load_params, out, run_app
from pipelines.import_pad import command as import_pad
from pipelines.import_pad import default_pad_dir
from pipelines.synth import write_synth_batch
from skinrisk.audit.archive import ledger_archive
from skinrisk.batch import READY_MARKER
from skinrisk.config import Params
from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout
from skinrisk.permissions import require_private_zones


def command(params_path: Path = PARAMS_OPTION) -> None:
    """Two rounds through both DAGs: a first champion, then a challenger at the gate."""
    params = load_params(params_path)
    layout = StateLayout.from_env()
    require_private_zones(layout)  # here, not in an ingest task's log, for an old state folder
    airflow = LocalAirflow(layout, str(params_path.resolve()))
    out.rule(f"skinrisk demo — state in {layout.home}, params {params_path}")
    airflow.prepare()
    for round_no, seed in ((1, params.synth.seed), (2, params.synth.seed + 1)):
        out.rule(f"round {round_no}: a hospital delivery lands")
        _land_synth(params, layout, seed)
        if round_no == 1:
            _land_pad(layout, params_path)
        for dag_id in ("skinrisk_ingest", "skinrisk_retrain"):
            result = airflow.dags_test(dag_id, f"round{round_no}")
            out.print(f"{dag_id}: [bold]{result.state}[/] ({len(result.tasks)} tasks ran: "
                      f"{', '.join(dict.fromkeys(result.tasks))}); log {result.log}")
            if result.state != "success":
                raise SkinriskError(f"{dag_id} ended {result.state}; see {result.log}")
        _show_report(layout)
    _audit(layout)
    out.rule("where things are")
    for line in (f"landing zone {layout.landing}", f"dataset workspace {layout.workspace} "
                 "(tags data-vN)", f"decision records {layout.decisions}",
                 f"run reports {layout.reports}", f"MLflow store {layout.mlflow}",
                 f"audit ledger {layout.ledger} (archived in {ledger_archive(layout)}), "
                 f"model audits {layout.home / 'audits'}"):
        out.print(f"  {line}")
    out.print("open the UIs on this state:")
    for line in airflow.ui_commands():  # to paste: printed as they are, no markup
        out.print(f"  {line}", soft_wrap=True, markup=False, highlight=False)


def _audit(layout: StateLayout) -> None:
    """The auditor's view of what the demo made: the ledger verified, the model traced."""
    from pipelines.audit import model_command, verify_command
    from skinrisk.promotion.registry import alias_version
    from skinrisk.tracking import CHALLENGER, CHAMPION, client

    out.rule("the audit trail")
    if verify_command() != 0:
        raise SkinriskError("the audit ledger does not verify; see `skinrisk audit verify`")
    registry = client(layout)
    ref = next((a for a in (CHAMPION, CHALLENGER) if alias_version(registry, a)), None)
    if ref is not None and model_command(ref, None) != 0:
        raise SkinriskError(f"`skinrisk audit model {ref}` found records that disagree")


def _land_synth(params: Params, layout: StateLayout, seed: int) -> None:
    folder = layout.landing / f"synth-s{seed}"
    if (folder / READY_MARKER).exists():
        out.print(f"synth: {folder} is already complete; kept")
        return
    cohort = params.synth.model_copy(update={"seed": seed})
    write_synth_batch(cohort, folder, layout.truth / f"{folder.name}.csv")
    out.print(f"synth: {cohort.images} photos -> {folder}")


def _land_pad(layout: StateLayout, params_path: Path) -> None:
    pad_dir = default_pad_dir()
    if (layout.landing / "pad-ufes-20" / READY_MARKER).exists():
        out.print("import-pad: landing/pad-ufes-20 is already complete; kept")
    elif pad_dir is not None and (pad_dir / "metadata.csv").is_file():
        import_pad(source=pad_dir, params_path=params_path)
    else:
        out.print(f"[yellow]import-pad: PAD-UFES-20 not found at {pad_dir}; set "
                  "SKINRISK_PAD_DIR to include the real photos[/]")


def _show_report(layout: StateLayout) -> None:
    reports = sorted(layout.reports.glob("skinrisk_retrain/*/report.json"),
                     key=lambda p: p.stat().st_mtime)
    if not reports:
        return
    report = json.loads(reports[-1].read_text())
    markdown = reports[-1].parent / "report.md"
    out.print(f"retrain outcome: [bold]{report['outcome']}[/] (report {markdown})")
    for decision in report["decisions"]:
        for reason in decision["reasons"][:8]:
            out.print(f"  - {reason}")


def main(argv: list[str] | None = None) -> int:
    return run_app(command, argv, prog_name="skinrisk demo")


if __name__ == "__main__":
    raise SystemExit(main())

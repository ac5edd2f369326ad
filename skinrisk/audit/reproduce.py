"""`skinrisk audit reproduce`: train and evaluate a registered model again from its records
alone, in a scratch workspace, and compare the figures with the recorded ones.

The code is the commit the run recorded (cloned from this checkout, else from the data
repository, whose branch merges the code it ran); the data is the run's dataset version
(cloned from the data repository, objects pulled from the DVC remote); the params are the
run's params.json artifact, checked against the digest the ledger holds. The reproduction runs
the same stage commands the DAG runs, with its own SKINRISK_HOME, so its MLflow runs, registry
and ledger stay in the scratch folder and the production registry is never touched.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from skinrisk import ledger
from skinrisk.audit.model import EVALUATION_ARTIFACT, RunArtifacts, resolve
from skinrisk.audit.trace import Check
from skinrisk.digest import canonical_sha256, lock_hashes
from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout, project_root
from skinrisk.ledger import Event
from skinrisk.tracking import PARAMS_ARTIFACT
from skinrisk.versioning.tools import dvc, git, run
from skinrisk.versioning.workspace import configure_dvc

GRADES = ("low-risk", "high-risk", "dangerous")
# What train and evaluate read; the raw zone (every photo ever received) is not pulled.
NEEDED = ("data/splits/assignments.parquet", "data/shards", "data/curated/manifest.parquet",
          "data/curated/validation")


@dataclass(frozen=True)
class Source:
    """Where the reproduction gets what the run recorded."""

    git_remote: str  # the data repository
    dvc_remote: str
    code_repository: Path | None  # this checkout, if any


def recorded_figures(report: dict[str, Any]) -> dict[str, float | None]:
    """The figures a reproduction is judged on: per set macro and per-grade AUC, accuracy."""
    out: dict[str, float | None] = {}
    for name, figures in sorted(report.get("sets", {}).items()):
        if not figures.get("n"):
            continue
        out[f"{name}_macro_auc"] = figures.get("macro_auc")
        out[f"{name}_accuracy"] = figures.get("accuracy")
        for grade in GRADES:
            out[f"{name}_auc_{grade}"] = ((figures.get("grades") or {}).get(grade) or {}).get(
                "auc")
    ood = report.get("ood") or {}
    if ood.get("n"):
        out["ood_accuracy"] = ood.get("accuracy")
    return out


def compare(recorded: dict[str, float | None], reproduced: dict[str, float | None],
            tolerance: float) -> list[dict[str, Any]]:
    rows = []
    for name in sorted(set(recorded) | set(reproduced)):
        a, b = recorded.get(name), reproduced.get(name)
        if a is None or b is None:
            rows.append({"metric": name, "recorded": a, "reproduced": b, "difference": None,
                         "within": a is None and b is None})
            continue
        diff = abs(a - b)
        rows.append({"metric": name, "recorded": a, "reproduced": b,
                     "difference": round(diff, 6), "within": diff <= tolerance})
    return rows


def reproduce(layout: StateLayout, client: Any, ref: str, source: Source, scratch: Path,
              tolerance: float, say: Any = print) -> dict[str, Any]:
    version = resolve(client, ref)
    mlrun = client.get_run(version.run_id)
    tags = mlrun.data.tags
    artifacts = RunArtifacts(version.run_id)
    params = artifacts.json(PARAMS_ARTIFACT)
    report = artifacts.json(EVALUATION_ARTIFACT)
    if params is None or report is None:
        raise SkinriskError(f"run {version.run_id} lacks {PARAMS_ARTIFACT} or "
                            f"{EVALUATION_ARTIFACT}: it was trained before runs recorded "
                            "everything a reproduction needs; it cannot be reproduced exactly")
    trained_on, commit = tags["data.version"], tags["code.commit"]
    evaluated_on = tags.get("evaluate.data_version") or trained_on
    training = _training_entry(layout, version.run_id)
    home, code = scratch / "home", scratch / "code"
    say(f"reproduce: {version.name}/{version.version}: code {commit[:12]}, data {trained_on}, "
        f"in {scratch}")
    _checkout_code(source, commit, code)
    workspace = _checkout_data(source, trained_on, home / "workspace")
    params_file = scratch / "params.yaml"
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    env = _environment(home, code)
    _stage(["train", "--params", str(params_file)], code, env, say)
    if evaluated_on != trained_on:
        _switch_data(workspace, evaluated_on)
    _stage(["evaluate", "--params", str(params_file)], code, env, say)
    again = json.loads((workspace / "metrics" / "evaluate.json").read_text())
    own = [e for e in ledger.entries(ledger.ledger_path(StateLayout(home)))
           if e["event"] == Event.TRAINING_RUN][-1]["data"]
    rows = compare(recorded_figures(report), recorded_figures(again), tolerance)
    checks = [
        Check("params: params.json = the ledger's digest",
              canonical_sha256(params) == (training or {}).get("params_sha256"),
              f"sha256 {canonical_sha256(params)[:16]}"),
        Check("the same images fitted and validated on (exact)",
              own.get("images_sha256") == (training or {}).get("images_sha256"),
              f"recorded {str((training or {}).get('images_sha256'))[:16]}, "
              f"reproduced {str(own.get('images_sha256'))[:16]}"),
        Check(f"every figure within {tolerance} of the recorded one",
              all(r["within"] for r in rows),
              f"largest difference {max((r['difference'] or 0) for r in rows):.6f} over "
              f"{len(rows)} figures"),
        Check("the environments it ran in were installed from the recorded lock files",
              lock_hashes(project_root()) == (training or {}).get("environment_locks"),
              "requirements/*.lock of the installation running the reproduction vs the "
              "hashes the training run recorded"),
        Check("the recorded run was made from committed code",
              tags.get("code.dirty") != "True",
              "code.dirty=True: the run had uncommitted changes the commit does not hold"
              if tags.get("code.dirty") == "True" else "clean checkout"),
    ]
    return {"audit": {"kind": "reproduce", "subject": f"{version.name}/{version.version}",
                      "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                      "scratch": str(scratch)},
            "recorded": {"run_id": version.run_id, "code_commit": commit,
                         "data_version": trained_on, "evaluated_on": evaluated_on},
            "reproduced": {"run_id": own.get("run_id"), "code_commit": own.get("code_commit")},
            "tolerance": tolerance, "figures": rows,
            "checks": [c.to_dict() for c in checks]}


def _training_entry(layout: StateLayout, run_id: str) -> dict[str, Any] | None:
    found = [e["data"] for e in ledger.read(layout)
             if e["event"] == Event.TRAINING_RUN and e["data"].get("run_id") == run_id]
    return found[-1] if found else None


def _checkout_code(source: Source, commit: str, target: Path) -> None:
    for origin in (source.code_repository, source.git_remote):
        if origin is None:
            continue
        if target.exists():
            run(["rm", "-rf", str(target)], target.parent)
        run(["git", "clone", "-q", "--no-checkout", str(origin), str(target)], target.parent)
        if run(["git", "checkout", "-q", commit], target, check=False).returncode == 0:
            return
    raise SkinriskError(f"code commit {commit} is in neither this checkout nor the data "
                        f"repository {source.git_remote}; it cannot be reproduced")


def _checkout_data(source: Source, tag: str, workspace: Path) -> Path:
    workspace.parent.mkdir(parents=True, exist_ok=True)
    run(["git", "clone", "-q", source.git_remote, str(workspace)], workspace.parent)
    git(workspace, "checkout", "-q", tag)
    configure_dvc(workspace, source.dvc_remote)
    dvc(workspace, "pull", *NEEDED)
    return workspace


def _switch_data(workspace: Path, tag: str) -> None:
    git(workspace, "checkout", "-q", tag)
    dvc(workspace, "pull", *NEEDED)


_PASSED_ON = ("SKINRISK_DVC",)  # where the DVC program is: not state


def _environment(home: Path, code: Path) -> dict[str, str]:
    # Nothing that points at production: MLflow (run, tracking, registry), an Airflow task's
    # context, and every SKINRISK_ setting but the DVC program's path, so that a setting added
    # later (the metadata database, the working prefix whose checkpoints would be taken for the
    # reproduction's own) is left out without anyone having to remember it here.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MLFLOW_", "AIRFLOW_CTX_", "SKINRISK_")) or k in _PASSED_ON}
    # The recorded commit's code, ahead of the installed (editable) one on the import path.
    return {**env, "SKINRISK_HOME": str(home), "PYTHONPATH": str(code),
            "USER": f"audit-reproduce:{env.get('USER', 'unknown')}"}


def _stage(args: list[str], code: Path, env: dict[str, str], say: Any) -> None:
    say(f"reproduce: skinrisk {' '.join(args[:1])} (recorded code)")
    result = subprocess.run([sys.executable, "-m", "pipelines.cli", *args], cwd=code, env=env,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SkinriskError(f"reproduce: `skinrisk {' '.join(args)}` failed in {code} (exit "
                            f"{result.returncode}):\n{(result.stderr or result.stdout)[-3000:]}")


def default_source(git_remote: str, dvc_remote: str) -> Source:
    return Source(git_remote, dvc_remote, project_root())

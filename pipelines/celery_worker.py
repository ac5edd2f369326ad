"""Celery settings of skinrisk's Airflow workers: Airflow's own, plus a wiped disk per task.

Set ``[celery] celery_config_options = pipelines.celery_worker.CELERY_CONFIG``
(AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS) on a worker, and SKINRISK_WIPE to the folders it keeps
nothing in (its SKINRISK_HOME, HOME, TMPDIR; separated by ':'). Their contents are deleted
before every task and after it: a task then starts on the disk a fresh Kubernetes pod would
give it, whatever the task before it or a killed worker left behind, and whatever a task needs
from an earlier one must come from PostgreSQL, the object store, the git server or MLflow. The
folders themselves stay (the worker's environment names them); a volume mounted directly
inside one is left alone (a read-only input, never the worker's own state).

Only a worker whose tasks clone their workspace (SKINRISK_WORKSPACE=clone) and run one at a
time may wipe, and never a folder that holds or lies inside Airflow's home, logs or DAGs, the
code, the environments, the worker's working directory or its kept cache (SKINRISK_CACHE): the
settings are checked when the worker loads this module, and a worker set up otherwise does not
start. A wipe that fails
before a task marks the task's environment (SKINRISK_WIPE_FAILED), and the stage refuses to run
(skinrisk.versioning.checkout).

Imported by the Celery app of the worker (and of the scheduler, where SKINRISK_WIPE is unset);
connecting the signal handlers is its effect at import, as Celery requires.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
from celery import signals

WIPE_VARIABLE = "SKINRISK_WIPE"
WIPE_FAILED_VARIABLE = "SKINRISK_WIPE_FAILED"  # skinrisk.versioning.checkout reads it
CELERY_CONFIG = DEFAULT_CELERY_CONFIG
log = logging.getLogger(__name__)


def wipe(folders: Iterable[Path]) -> int:
    """Delete everything inside each folder (not the folder, not a mount inside it); returns
    the entries removed."""
    removed = 0
    for folder in folders:
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                if os.path.ismount(entry):
                    continue
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed += 1
    return removed


def wiped_folders(environ: Mapping[str, str] | None = None) -> list[Path]:
    """SKINRISK_WIPE's folders, refused unless wiping them is safe (see the module's doc)."""
    env = os.environ if environ is None else environ
    folders = [Path(p) for p in env.get(WIPE_VARIABLE, "").split(os.pathsep) if p]
    if not folders:
        return []
    if env.get("SKINRISK_WORKSPACE") != "clone":
        raise SystemExit(f"{WIPE_VARIABLE} is set but SKINRISK_WORKSPACE is not `clone`: this "
                         "worker's tasks keep their workspace on its disk, and emptying it "
                         "would lose it. Unset SKINRISK_WIPE or set SKINRISK_WORKSPACE=clone")
    kept = [Path(p).resolve() for p in _kept_folders(env)]
    for folder in folders:
        where = folder.resolve()
        if not folder.is_absolute() or any(
                k == where or where in k.parents or k in where.parents for k in kept):
            raise SystemExit(f"{WIPE_VARIABLE}: {folder} is not a folder this worker may empty "
                             "(it must be absolute, and neither hold nor lie inside Airflow's "
                             "home, its logs, the DAGs, the code, the environments, the "
                             "working directory or the kept cache, SKINRISK_CACHE)")
    return folders


def _kept_folders(env: Mapping[str, str]) -> list[str]:
    """What a wipe must never touch: Airflow's home, logs and DAGs (from Airflow's own settings:
    AIRFLOW_HOME defaults to ~/airflow when unset), the code, both environments, the cwd."""
    from airflow.configuration import AIRFLOW_HOME, conf

    ml_bin = env.get("SKINRISK_ML_BIN")
    return [p for p in (AIRFLOW_HOME, conf.get("logging", "base_log_folder"),
                        conf.get("core", "dags_folder"), sys.prefix, os.getcwd(),
                        str(Path(__file__).resolve().parents[1]),
                        str(Path(ml_bin).parent) if ml_bin else "",
                        env.get("SKINRISK_CACHE", "")) if p]


def _wipe_for_task(**_: Any) -> None:
    try:
        removed = wipe(FOLDERS)
    except OSError as exc:  # Celery logs and swallows a handler's error: mark the task instead
        log.error("skinrisk: could not empty %s: %s", os.environ.get(WIPE_VARIABLE), exc)
        os.environ[WIPE_FAILED_VARIABLE] = f"{type(exc).__name__} on {exc.filename}"
        return
    os.environ.pop(WIPE_FAILED_VARIABLE, None)
    if removed:
        log.info("skinrisk: emptied %d entries of %s", removed, os.environ.get(WIPE_VARIABLE))


def _one_at_a_time(**kwargs: Any) -> None:
    """A wipe around one task would delete another's disk under it: concurrency 1 only (the
    autoscaler, applied after this signal, would raise it: refused too)."""
    from airflow.configuration import conf

    concurrency = getattr(kwargs.get("sender"), "concurrency", 1)
    autoscale = "--autoscale" in sys.argv or conf.get("celery", "worker_autoscale",
                                                      fallback=None)
    if FOLDERS and (concurrency != 1 or autoscale):
        raise SystemExit(f"{WIPE_VARIABLE} needs a worker that runs one task at a time "
                         f"(--concurrency 1, no autoscale), not {concurrency}"
                         + (" with autoscale" if autoscale else ""))


FOLDERS = wiped_folders()  # checked as the worker loads its settings: a bad setting stops it
signals.worker_init.connect(_one_at_a_time, weak=False)
signals.task_prerun.connect(_wipe_for_task, weak=False)
signals.task_postrun.connect(_wipe_for_task, weak=False)

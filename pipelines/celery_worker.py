"""Celery settings of skinrisk's Airflow workers: Airflow's own, plus a wiped disk per task.

Set ``[celery] celery_config_options = pipelines.celery_worker.CELERY_CONFIG``
(AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS) on a worker, and SKINRISK_WIPE to the folders it keeps
nothing in (its SKINRISK_HOME, HOME, TMPDIR, Keras cache; separated by ':'). Their contents are
deleted before every task and after it: a task then starts on the disk a fresh Kubernetes pod
would give it, whatever the task before it left or a killed worker left behind, and whatever a
task needs from an earlier one must come from PostgreSQL, the object store, the git server or
MLflow. The folders themselves stay (the worker's environment names them).

This module is imported by the Celery app of the worker (and of the scheduler, where no task
runs); connecting the signal handlers is its one effect at import, as Celery requires.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
from celery import signals

WIPE_VARIABLE = "SKINRISK_WIPE"
CELERY_CONFIG = DEFAULT_CELERY_CONFIG
log = logging.getLogger(__name__)


def wipe(folders: Iterable[Path]) -> int:
    """Delete everything inside each folder (not the folder); returns the entries removed."""
    removed = 0
    for folder in folders:
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed += 1
    return removed


def wiped_folders(environ: dict[str, str] | None = None) -> list[Path]:
    value = (os.environ if environ is None else environ).get(WIPE_VARIABLE, "")
    folders = [Path(p) for p in value.split(os.pathsep) if p]
    for folder in folders:
        if not folder.is_absolute() or folder.resolve() == Path("/"):
            raise ValueError(f"{WIPE_VARIABLE}: {folder} is not an absolute folder below /")
    return folders


def _wipe_for_task(**_: Any) -> None:
    removed = wipe(wiped_folders())
    if removed:
        log.info("skinrisk: wiped %d entries of %s", removed, os.environ.get(WIPE_VARIABLE))


signals.task_prerun.connect(_wipe_for_task, weak=False)
signals.task_postrun.connect(_wipe_for_task, weak=False)

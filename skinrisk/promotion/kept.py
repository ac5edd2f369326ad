"""Decision records where every worker finds them.

Each record is a file under SKINRISK_HOME/decisions (the embedded default, and what `audit`
and the demo show). A task whose disk is emptied after it (SKINRISK_WORKSPACE=clone) also puts
each one, write-once, under ``decisions/`` on the working prefix, and readers there (the
retrain report, on another worker) list that prefix instead of the folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from skinrisk.layout import StateLayout
from skinrisk.storage.objects import ObjectMissing, open_store

PREFIX = "decisions/"


def keep(layout: StateLayout, path: Path) -> None:
    """The record file just written at ``path``, put (if absent) on the working prefix too."""
    if layout.clones and layout.work_url:
        open_store(layout.work_url).put_if_absent(f"{PREFIX}{path.name}", path.read_bytes())


def decision_records(layout: StateLayout) -> list[dict[str, Any]]:
    """Every decision record (JSON), in name order (names start with the decision time)."""
    if layout.clones and layout.work_url:
        store = open_store(layout.work_url)
        return [json.loads(store.get(key)) for key in sorted(store.list(PREFIX))
                if key.endswith(".json")]
    return [json.loads(p.read_text()) for p in sorted(layout.decisions.glob("*.json"))]


def decision_record(layout: StateLayout, decision_id: str) -> tuple[bytes | None, str]:
    """One decision record's bytes as kept (None when it is not there) and where it was read:
    the working prefix where tasks clone, else SKINRISK_HOME/decisions."""
    name = f"{decision_id}.json"
    if layout.clones and layout.work_url:
        store = open_store(layout.work_url)
        try:
            return store.get(f"{PREFIX}{name}"), f"{store.location}{PREFIX}{name}"
        except ObjectMissing:
            return None, f"{store.location}{PREFIX}{name}"
    path = layout.decisions / name
    return (path.read_bytes() if path.is_file() else None), str(path)

"""A model's external evaluations in its audit trace (`skinrisk evaluate --model`): what the
ledger says each one graded and found, checked against the report its own MLflow run holds."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from skinrisk.audit.trace import Check, equal_check
from skinrisk.ledger import Event


def external_evaluations(related: Iterable[Mapping[str, Any]],
                         read_report: Callable[[str], bytes | None]
                         ) -> tuple[list[dict[str, Any]], list[Check]]:
    """(one summary per external evaluation in the ledger, one cross-check each);
    ``read_report``: run id -> its evaluate.json artifact, None when missing."""
    found, checks = [], []
    for entry in related:
        if entry["event"] != Event.EXTERNAL_EVALUATION:
            continue
        data = entry["data"]
        report = read_report(data["run_id"])
        checks.append(equal_check(
            f"external evaluation {data['run_id']}: report (MLflow artifact) = the ledger's "
            "sha256", data.get("report_sha256"),
            hashlib.sha256(report).hexdigest() if report is not None else None))
        found.append({"run_id": data["run_id"], "at": entry["at"], "by": entry["by"],
                      "batches": list(data.get("batches", [])), "images": data.get("images"),
                      "images_sha256": data.get("images_sha256"),
                      "figures": dict(data.get("figures") or {})})
    return found, checks

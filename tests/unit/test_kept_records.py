"""Decision records on the working prefix, where a wiped worker's successor finds them."""

from __future__ import annotations

import json
from pathlib import Path

from skinrisk.layout import StateLayout
from skinrisk.promotion.kept import decision_record, decision_records, keep


def _write(layout: StateLayout, name: str, record: dict) -> Path:
    layout.decisions.mkdir(parents=True, exist_ok=True)
    path = layout.decisions / name
    path.write_text(json.dumps(record))
    return path


def test_the_embedded_default_reads_the_folder_and_puts_nothing(tmp_path: Path) -> None:
    layout = StateLayout(tmp_path / "home", work_url=str(tmp_path / "work"))
    keep(layout, _write(layout, "20260101T000000Z-v1.json", {"decision_id": "a"}))
    assert not (tmp_path / "work").exists()
    assert decision_records(layout) == [{"decision_id": "a"}]


def test_a_cloned_worker_keeps_each_record_once_and_reads_them_back_after_a_wipe(
        tmp_path: Path) -> None:
    layout = StateLayout(tmp_path / "home", work_url=str(tmp_path / "work"), clones=True)
    first = _write(layout, "20260101T000000Z-v1.json", {"decision_id": "a"})
    keep(layout, first)
    keep(layout, _write(layout, "20260102T000000Z-v2.json", {"decision_id": "b"}))
    keep(layout, _write(layout, "20260102T000000Z-v2.md", {"not": "json"}))
    keep(layout, first)  # a retried task: the same bytes again are no conflict
    for path in layout.decisions.iterdir():  # the worker's disk emptied after its task
        path.unlink()
    assert [r["decision_id"] for r in decision_records(layout)] == ["a", "b"]
    # `audit model` on another machine: the bytes as kept (their hash is in the ledger).
    body, where = decision_record(layout, "20260101T000000Z-v1")
    assert json.loads(body) == {"decision_id": "a"} and where.endswith(
        "decisions/20260101T000000Z-v1.json")
    assert decision_record(layout, "20260103T000000Z-v9")[0] is None


def test_each_try_of_a_report_is_kept_and_the_newest_is_read(tmp_path: Path) -> None:
    from skinrisk.reports import keep_report, kept_report

    layout = StateLayout(tmp_path / "home", work_url=str(tmp_path / "work"), clones=True)
    base = {"dag_id": "d", "run_id": "r/1", "retrain_check": None, "train": None,
            "evaluation": None, "decisions": [], "failures": [], "outcome": "done"}
    assert kept_report(layout, "d", "r/1") is None
    keep_report(layout, "d", "r/1", {**base, "written_at": "2026-01-01T00:00:00+00:00"})
    keep_report(layout, "d", "r/1", {**base, "written_at": "2026-01-01T00:05:00+00:00",
                                     "outcome": "failed"})
    assert kept_report(layout, "d", "r/1")["outcome"] == "failed"
    assert len(list((tmp_path / "work").rglob("*-report.md"))) == 2
    keep_report(StateLayout(tmp_path / "h2", work_url=str(tmp_path / "w2")), "d", "r",
                {**base, "written_at": "2026-01-01T00:00:00+00:00"})  # keep mode: nothing
    assert not (tmp_path / "w2").exists()

"""The audit ledger's hash chain: every kind of tampering is found, and named."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from pipelines.cli import main
from skinrisk.audit.archive import require_intact
from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout
from skinrisk.ledger import append, ledger_path, verify


@pytest.fixture()
def ledger(state_home: Path) -> Path:
    layout = StateLayout.from_env()
    for n in range(5):
        append(layout, "dataset_version", {"tag": f"data-v{n + 1}", "images": 10 * n}, "user:t")
    return ledger_path(layout)


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def write(path: Path, rows: list[str]) -> None:
    path.write_text("\n".join(rows) + "\n")


def test_an_intact_chain_verifies(ledger: Path) -> None:
    verdict = verify(ledger)
    assert verdict.ok and verdict.entries == 5
    assert main(["audit", "verify"]) == 0


@pytest.mark.parametrize("tamper, bad, why", [
    ("edit", 3, "edited"), ("delete", 3, "deleted"), ("insert", 3, "inserted"),
    ("reorder", 2, "reordered"), ("truncate", 5, "not JSON")])
def test_each_kind_of_tampering_names_the_first_bad_entry(ledger: Path, tamper: str, bad: int,
                                                          why: str) -> None:
    rows = lines(ledger)
    if tamper == "edit":
        entry = json.loads(rows[2])
        entry["data"]["images"] = 999
        rows[2] = json.dumps(entry, sort_keys=True)
    elif tamper == "delete":
        del rows[2]
    elif tamper == "insert":
        rows.insert(2, rows[1])
    elif tamper == "reorder":
        rows[1], rows[2] = rows[2], rows[1]
    else:
        rows[4] = rows[4][:40]
    write(ledger, rows)
    verdict = verify(ledger)
    assert not verdict.ok and verdict.first_bad == bad and why in verdict.why
    assert main(["audit", "verify"]) == 1
    with pytest.raises(SkinriskError, match=f"fails verification at entry {bad}"):
        require_intact(StateLayout.from_env())


def test_an_edit_that_recomputes_its_own_hash_still_breaks_the_next_link(ledger: Path) -> None:
    import hashlib

    rows = lines(ledger)
    entry = json.loads(rows[1])
    entry["data"]["images"] = 0
    body = {k: v for k, v in entry.items() if k != "hash"}
    entry["hash"] = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"))
                                   .encode()).hexdigest()
    rows[1] = json.dumps(entry, sort_keys=True)
    write(ledger, rows)
    verdict = verify(ledger)
    assert not verdict.ok and verdict.first_bad == 3


def test_concurrent_appends_keep_one_unbroken_chain(state_home: Path) -> None:
    layout = StateLayout.from_env()
    threads = [threading.Thread(target=lambda k=k: [append(layout, "x", {"k": k, "i": i},
                                                           "t") for i in range(20)])
               for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    verdict = verify(ledger_path(layout))
    assert verdict.ok and verdict.entries == 80


def _forge(path: Path, index: int) -> None:
    """Rewrite the chain from one entry on with every hash recomputed: the chain verifies,
    only an outside copy can tell."""
    import hashlib

    rows = [json.loads(r) for r in lines(path)]
    rows[index]["data"]["images"] = 12345
    previous = rows[index - 1]["hash"] if index else "0" * 64
    for row in rows[index:]:
        row["prev"] = previous
        body = {k: v for k, v in row.items() if k != "hash"}
        row["hash"] = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"))
                                     .encode()).hexdigest()
        previous = row["hash"]
    write(path, [json.dumps(r, sort_keys=True) for r in rows])


def test_a_forged_chain_verifies_alone_but_not_against_its_archived_copy(
        ledger: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from skinrisk.audit.archive import check_anchor, publish

    archive = str(tmp_path / "archive") + "/"
    monkeypatch.setenv("SKINRISK_LEDGER_ARCHIVE", archive)
    assert main(["audit", "publish"]) == 0
    copies = list((tmp_path / "archive").iterdir())
    assert len(copies) == 1 and copies[0].name.startswith("00000005-")
    assert publish(ledger, archive) == copies[0].name  # the same ledger: nothing new written
    append(StateLayout.from_env(), "training_run", {"run_id": "r"}, "user:t")
    assert check_anchor(ledger, archive).ok  # growing past the copy is fine
    assert main(["audit", "verify"]) == 0

    _forge(ledger, 2)
    assert verify(ledger).ok
    anchor = check_anchor(ledger, archive)
    assert not anchor.ok and anchor.first_bad == 3 and "rewritten" in anchor.why
    assert main(["audit", "verify"]) == 1
    with pytest.raises(SkinriskError, match="entry 3: entry 3 differs from the archived copy"):
        require_intact(StateLayout.from_env(), archive)
    # Archiving the forgery adds a copy; the true copy still stands against it.
    assert publish(ledger, archive) != copies[0].name
    assert check_anchor(ledger, archive).first_bad == 3


def test_a_shortened_ledger_is_caught_by_its_archived_copy(ledger: Path, tmp_path: Path) -> None:
    from skinrisk.audit.archive import check_anchor, publish

    archive = str(tmp_path / "archive") + "/"
    publish(ledger, archive)
    write(ledger, lines(ledger)[:3])
    assert verify(ledger).ok  # a prefix of a chain is a valid chain
    anchor = check_anchor(ledger, archive)
    assert not anchor.ok and anchor.first_bad == 4 and "removed" in anchor.why

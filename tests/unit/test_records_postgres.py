"""The PostgreSQL metadata store on a real server: migrations, the identity map, its grants.

Each module gets its own database on the server at SKINRISK_TEST_POSTGRES (default
postgresql://postgres@127.0.0.1:5432/postgres, trust auth as on CI), dropped at the end. The
roles the tasks use are taken with SET ROLE / the `role` option, as a login mapped to them would.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from skinrisk.errors import SkinriskError
from skinrisk.layout import StateLayout
from tests.helpers.postgres import database_url as _url
from tests.helpers.postgres import fresh_database

psycopg = pytest.importorskip("psycopg", reason="psycopg is in the ml environment only")

pytestmark = pytest.mark.ml

@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A fresh database, migrated, for this module; dropped afterwards."""
    with fresh_database() as name:
        yield name


@pytest.fixture
def empty_database() -> Iterator[str]:
    with fresh_database(migrated=False) as name:
        yield name


# -- migrations and `skinrisk db setup` ------------------------------------------------------

def test_setup_applies_every_migration_once(empty_database: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from pipelines.db import main
    from skinrisk.records.migrations import applied_versions, load_migrations

    url = _url(empty_database)
    labels = [m.label for m in load_migrations()]
    assert labels[:2] == ["0001_identity", "0002_ledger"]
    assert main(["--admin-url", url]) == 0
    first = capsys.readouterr().out
    assert all(f"applied {label}" in first for label in labels)
    assert main(["--admin-url", url]) == 0  # a rerun is a no-op
    assert "nothing to apply" in capsys.readouterr().out
    assert list(applied_versions(url).values()) == labels
    with psycopg.connect(url) as db:
        assert db.execute("SELECT count(*) FROM schema_migrations").fetchone() == (len(labels),)


def test_databases_set_up_at_once_share_the_cluster_wide_roles() -> None:
    """Roles belong to the server, the setup lock to one database: four databases set up at the
    same moment all race to create the same role (without the retry, three of four failed with
    a unique violation on pg_authid here); every setup must still succeed."""
    import uuid
    from contextlib import ExitStack

    from skinrisk.records.migrations import Migration, apply_migrations

    role = f"skinrisk_race_{uuid.uuid4().hex[:8]}"
    creates = Migration(1, "race", f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE "
                                   f"rolname = '{role}') THEN CREATE ROLE {role} NOLOGIN; "
                                   f"END IF; END $$; SELECT pg_sleep(0.2);")
    errors: list[BaseException] = []

    def setup(name: str) -> None:
        try:
            apply_migrations(_url(name), [creates])
        except BaseException as exc:  # reported below, thread by thread
            errors.append(exc)

    try:
        with ExitStack() as stack:
            names = [stack.enter_context(fresh_database(migrated=False)) for _ in range(4)]
            threads = [threading.Thread(target=setup, args=(n,)) for n in names]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        assert errors == []
    finally:
        with psycopg.connect(_url("postgres"), autocommit=True) as admin:
            admin.execute(f"DROP ROLE IF EXISTS {role}")


def test_setup_without_a_url_says_what_to_set(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from pipelines.db import main

    monkeypatch.delenv("SKINRISK_DATABASE_ADMIN_URL", raising=False)
    assert main([]) == 1
    assert "SKINRISK_DATABASE_ADMIN_URL" in capsys.readouterr().err


def test_an_edited_migration_is_refused_and_nothing_applied(empty_database: str) -> None:
    from skinrisk.records.migrations import Migration, apply_migrations, load_migrations

    url = _url(empty_database)
    original = load_migrations()
    apply_migrations(url, original[:1])
    edited = [Migration(1, original[0].name, original[0].sql + "\n-- tweaked\n"), *original[1:]]
    with pytest.raises(SkinriskError, match="0001_identity was edited after it was applied"):
        apply_migrations(url, edited)
    with psycopg.connect(url) as db:  # 0002 was not applied behind the refusal
        assert db.execute("SELECT to_regclass('ledger.entries')").fetchone() == (None,)


def test_a_database_newer_than_the_code_is_refused(empty_database: str) -> None:
    from skinrisk.records.migrations import apply_migrations, load_migrations

    url = _url(empty_database)
    apply_migrations(url)
    with pytest.raises(SkinriskError, match="does not have: it was set up by newer code"):
        apply_migrations(url, load_migrations()[:1])


def test_two_setups_at_once_apply_each_migration_once(empty_database: str) -> None:
    from skinrisk.records.migrations import apply_migrations, load_migrations

    url, applied, errors = _url(empty_database), [], []

    def setup() -> None:
        try:
            applied.extend(m.label for m in apply_migrations(url))
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=setup) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(applied) == [m.label for m in load_migrations()]


# -- the identity map -------------------------------------------------------------------------

def test_identity_round_trip_and_surrogates_stable_across_reopen(database: str) -> None:
    from skinrisk.records.identity import PostgresPrivateStore

    url = _url(database, role="skinrisk_ingest")  # the grants ingest has are enough
    with PostgresPrivateStore(url) as store:
        patient = store.surrogate_patient("hospital-a", " mrn-0042 ")
        lesion = store.surrogate_lesion("hospital-a", "MRN-0042", "L1")
        token = store.device_token("Dermatoscope 7")
        assert patient.startswith("P-") and lesion.startswith("L-") and token.startswith("dev-")
        assert store.surrogate_patient("hospital-b", "MRN-0042") != patient  # per source
        store.record_files("b1", [
            {"file_name": "a.jpg", "line": 2, "received_sha256": "aa", "outcome": "accepted",
             "image_id": "img1", "quarantine_id": None, "reason": None},
            {"file_name": "b.jpg", "line": 3, "received_sha256": "bb", "outcome": "quarantined",
             "image_id": None, "quarantine_id": "q1", "reason": "unreadable", "kind": "file",
             "signature": "s0"}])
        store.confirm_signatures("b1", {"a.jpg": "s1"})
    with PostgresPrivateStore(url) as store:  # a new connection, as the next task would have
        assert store.surrogate_patient("hospital-a", "MRN-0042") == patient
        assert store.surrogate_lesion("hospital-a", "mrn-0042", "l1") == lesion
        assert store.device_token("dermatoscope 7") == token
        rows = store.files_of("b1")
        assert [r["file_name"] for r in rows] == ["a.jpg", "b.jpg"]
        assert rows[0] == {"batch_id": "b1", "file_name": "a.jpg", "line": 2,
                           "received_sha256": "aa", "outcome": "accepted", "image_id": "img1",
                           "quarantine_id": None, "reason": None, "kind": None,
                           "signature": "s1"}
        assert store.files_of_image("img1") == [rows[0]]
        assert store.files_named("b.jpg") == [rows[1]]
        store.record_files("b1", [{**rows[1], "outcome": "accepted", "image_id": "img2"}])
        assert [(r["file_name"], r["image_id"]) for r in store.files_of("b1")] == [
            ("b.jpg", "img2")]  # a rerun replaces the batch's record


def test_rows_look_like_the_sqlite_stores(database: str, tmp_path: Path) -> None:
    from skinrisk.records.identity import PostgresPrivateStore
    from skinrisk.storage.private import PrivateStore

    record = {"file_name": "x.jpg", "line": 5, "received_sha256": "ff", "outcome": "accepted",
              "image_id": "imgx", "quarantine_id": None, "reason": None, "kind": "file",
              "signature": "sig"}
    with PrivateStore(tmp_path / "private" / "identity.sqlite") as sqlite:
        sqlite.record_files("bx", [record])
        expected = sqlite.files_of("bx")
    with PostgresPrivateStore(_url(database)) as store:
        store.record_files("bx", [record])
        assert store.files_of("bx") == expected


def test_concurrent_ingests_agree_on_every_surrogate(database: str) -> None:
    from skinrisk.records.identity import PostgresPrivateStore

    url, seen, errors = _url(database, role="skinrisk_ingest"), [], []
    keys = [f"MRN-{i:03d}" for i in range(40)]
    barrier = threading.Barrier(4)

    def ingest(worker: int) -> None:
        try:
            with PostgresPrivateStore(url) as store:
                barrier.wait()
                got = {k: store.surrogate_patient("concurrent", k) for k in keys}
                store.record_files("same-batch", [
                    {"file_name": f"{worker}.jpg", "line": 1, "received_sha256": None,
                     "outcome": "accepted", "image_id": None, "quarantine_id": None,
                     "reason": None}])
                seen.append(got)
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=ingest, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(seen) == 4 and all(s == seen[0] for s in seen)
    assert len(set(seen[0].values())) == len(keys)
    with PostgresPrivateStore(url) as store:  # each rerun replaced the batch: one record left
        assert len(store.files_of("same-batch")) == 1


def test_the_pipeline_role_cannot_read_the_identity_map(database: str) -> None:
    with psycopg.connect(_url(database), autocommit=True) as db:
        db.execute("SET ROLE skinrisk_pipeline")
        for table in ("patients", "lesions", "files", "secrets"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                db.execute(f"SELECT * FROM identity.{table}")
        db.execute("RESET ROLE")
        db.execute("SET ROLE skinrisk_ingest")
        db.execute("SELECT count(*) FROM identity.patients")  # ingest's role can
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.execute("DELETE FROM identity.patients")  # but never forgets a surrogate
        for table, column in (("patients", "surrogate"), ("lesions", "surrogate"),
                              ("secrets", "value")):  # nor rewrites one (migration 0003)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                db.execute(f"UPDATE identity.{table} SET {column} = NULL WHERE false")
        db.execute("UPDATE identity.files SET signature = NULL WHERE false")  # confirmations


def test_the_store_run_as_the_pipeline_role_fails_loudly(database: str) -> None:
    from skinrisk.records.identity import PostgresPrivateStore

    with PostgresPrivateStore(_url(database, role="skinrisk_pipeline")) as store, \
            pytest.raises(psycopg.errors.InsufficientPrivilege):
        store.surrogate_patient("hospital-a", "MRN-1")


def test_the_factory_follows_the_environment(database: str, tmp_path: Path) -> None:
    from skinrisk.records import has_private_store, open_private_store
    from skinrisk.records.identity import PostgresPrivateStore
    from skinrisk.storage.private import PrivateStore

    layout = StateLayout(tmp_path)
    assert not has_private_store(layout, {})
    with open_private_store(layout, {}) as embedded:
        assert isinstance(embedded, PrivateStore)
    assert (tmp_path / "private" / "identity.sqlite").is_file()
    environ = {"SKINRISK_DATABASE_URL": _url(database)}
    assert has_private_store(StateLayout(tmp_path / "elsewhere"), environ)
    with open_private_store(StateLayout(tmp_path / "elsewhere"), environ) as store:
        assert isinstance(store, PostgresPrivateStore)
    assert not (tmp_path / "elsewhere").exists()  # nothing written to local disk


def test_an_embedded_store_left_behind_stops_the_switch_to_postgresql(
        database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Going on would give every known patient a new surrogate and start a second ledger.
    from skinrisk import ledger
    from skinrisk.records import open_private_store

    layout = StateLayout(tmp_path)
    monkeypatch.delenv("SKINRISK_DATABASE_URL", raising=False)
    with open_private_store(layout) as embedded:
        embedded.surrogate_patient("hospital-a", "MRN-1")
    ledger.record(layout, "batch_ingested", {"batch_id": "b1"})
    monkeypatch.setenv("SKINRISK_DATABASE_URL", _url(database))
    with pytest.raises(SkinriskError, match=r"embedded identity map .* is still there"):
        open_private_store(layout)
    with pytest.raises(SkinriskError, match=r"embedded ledger .* is still there"):
        ledger.record(layout, "batch_ingested", {"batch_id": "b2"})
    with pytest.raises(SkinriskError, match="embedded ledger"):
        list(ledger.read(layout))


def test_a_database_down_is_not_reported_as_a_broken_chain(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    from skinrisk import ledger

    monkeypatch.setenv("SKINRISK_DATABASE_URL", "postgresql://someone@127.0.0.1:1/x")
    with pytest.raises(SkinriskError, match="cannot connect to the metadata database"):
        ledger.check(StateLayout(tmp_path))


def test_a_malformed_url_is_refused_without_its_password() -> None:
    from skinrisk.records.identity import PostgresPrivateStore

    with pytest.raises(SkinriskError, match=r"URL .* is not valid") as caught:
        PostgresPrivateStore("postgresql://someone:s3cret@[::1/x")
    assert "s3cret" not in str(caught.value)


def test_a_database_never_set_up_says_to_run_setup(empty_database: str,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str],
                                                  tmp_path: Path) -> None:
    from pipelines.cli import main

    monkeypatch.setenv("SKINRISK_HOME", str(tmp_path))
    monkeypatch.setenv("SKINRISK_DATABASE_URL", _url(empty_database))
    assert main(["audit", "verify"]) == 1
    assert "run `skinrisk db setup`" in capsys.readouterr().err


def test_an_unreachable_database_is_one_clear_error() -> None:
    from skinrisk.records.identity import PostgresPrivateStore

    with pytest.raises(SkinriskError, match=r"metadata database 127\.0\.0\.1:1/x"):
        PostgresPrivateStore("postgresql://someone:secret@127.0.0.1:1/x")


# -- the ledger -------------------------------------------------------------------------------

@pytest.fixture
def ledger_database(empty_database: str) -> str:
    """A migrated database of its own: a ledger that starts empty."""
    from skinrisk.records.migrations import apply_migrations

    apply_migrations(_url(empty_database))
    return empty_database


EVENTS = [("batch_ingested", {"batch_id": "b1", "images": 3, "ratio": 0.1, "ids": ["a", "b"]}),
          ("dataset_version", {"tag": "data-v1", "hashes": {"raw": "ab" * 32}, "empty": None}),
          ("promotion_decision", {"verdict": "promote", "note": "caf\u00e9 \u2713", "n": 10**20})]


def test_an_entry_hashes_the_same_whichever_backend_wrote_it(
        ledger_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from skinrisk import ledger

    monkeypatch.setattr(ledger, "_now", lambda: "2026-01-02T03:04:05+00:00")
    monkeypatch.delenv("SKINRISK_DATABASE_URL", raising=False)
    file_layout = StateLayout(tmp_path / "embedded")
    written = [ledger.append(file_layout, e, d, "tester") for e, d in EVENTS]
    monkeypatch.setenv("SKINRISK_DATABASE_URL", _url(ledger_database, role="skinrisk_pipeline"))
    db_layout = StateLayout(tmp_path / "production")
    assert [ledger.append(db_layout, e, d, "tester") for e, d in EVENTS] == written
    monkeypatch.delenv("SKINRISK_DATABASE_URL")
    on_file = ledger.lines(file_layout)
    monkeypatch.setenv("SKINRISK_DATABASE_URL", _url(ledger_database))
    assert ledger.lines(db_layout) == on_file  # byte for byte, the lines the archive copies
    assert ledger.check(db_layout).ok and ledger.check(db_layout).entries == 3
    assert ledger.recorded(db_layout, "dataset_version", "tag", "data-v1")
    assert not (tmp_path / "production").exists()  # nothing on local disk
    copy = tmp_path / "copy.jsonl"  # and the file verifier accepts PostgreSQL's lines
    copy.write_bytes(b"".join(ledger.lines(db_layout)))
    assert ledger.verify(copy).ok


def test_concurrent_appenders_keep_one_valid_chain(
        ledger_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    from skinrisk import ledger

    url = _url(ledger_database, role="skinrisk_pipeline")
    script = ("import sys\nfrom skinrisk import ledger\nfrom skinrisk.layout import StateLayout\n"
              "home = StateLayout.from_env()\n"
              "for i in range(15):\n"
              "    ledger.append(home, 'tick', {'w': sys.argv[1], 'i': i}, 'p')\n")
    env = {**os.environ, "SKINRISK_DATABASE_URL": url, "SKINRISK_HOME": str(tmp_path)}
    workers = [subprocess.Popen([sys.executable, "-c", script, str(w)], env=env)
               for w in range(2)]
    monkeypatch.setenv("SKINRISK_DATABASE_URL", url)
    errors: list[Exception] = []

    def appender(worker: str) -> None:
        try:
            for i in range(15):
                ledger.append(StateLayout(tmp_path), "tick", {"w": worker, "i": i}, "t")
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=appender, args=(f"t{w}",)) for w in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [worker.wait(timeout=60) for worker in workers] == [0, 0]
    assert not errors
    chain = list(ledger.read(StateLayout(tmp_path)))
    assert [e["seq"] for e in chain] == list(range(1, 61))
    assert ledger.check(StateLayout(tmp_path)).ok
    for worker in ("0", "1", "t0", "t1"):  # each appender's entries, none lost, in its order
        assert [e["data"]["i"] for e in chain if e["data"]["w"] == worker] == list(range(15))


def test_the_ledger_is_append_only_for_every_role(ledger_database: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from skinrisk import ledger

    monkeypatch.setenv("SKINRISK_DATABASE_URL", _url(ledger_database, role="skinrisk_ingest"))
    ledger.append(StateLayout(Path("/nonexistent")), "batch_ingested", {"n": 1}, "ingest")
    for role in ("skinrisk_pipeline", "skinrisk_ingest"):
        with psycopg.connect(_url(ledger_database), autocommit=True) as db:
            db.execute(f"SET ROLE {role}")
            assert db.execute("SELECT count(*) FROM ledger.entries").fetchone() == (1,)
            for statement in ("UPDATE ledger.entries SET event = 'x'",
                              "DELETE FROM ledger.entries", "TRUNCATE ledger.entries"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    db.execute(statement)
    with psycopg.connect(_url(ledger_database), autocommit=True) as owner:  # even the owner
        for statement in ("UPDATE ledger.entries SET event = 'x'", "DELETE FROM ledger.entries",
                          "TRUNCATE ledger.entries"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                owner.execute(statement)


def test_archive_and_audit_verify_read_the_ledger_from_postgresql(
        ledger_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from pipelines import audit
    from skinrisk import ledger
    from skinrisk.audit.archive import check_ledger_anchor, publish_ledger, require_intact

    archive = str(tmp_path / "archive") + "/"
    layout = StateLayout(tmp_path / "home")
    monkeypatch.setenv("SKINRISK_HOME", str(layout.home))
    monkeypatch.setenv("SKINRISK_LEDGER_ARCHIVE", archive)
    monkeypatch.setenv("SKINRISK_DATABASE_URL", _url(ledger_database, role="skinrisk_pipeline"))
    for event, data in EVENTS:
        ledger.record(layout, event, data)
    name = publish_ledger(layout, archive)
    assert name is not None and name.startswith("00000003-")
    assert (tmp_path / "archive" / name).read_bytes() == b"".join(ledger.lines(layout))
    assert publish_ledger(layout, archive) == name  # the same copy again writes nothing
    ledger.append(layout, "later", {}, "t")
    assert check_ledger_anchor(layout, archive).ok
    require_intact(layout, archive)
    assert audit.main([]) == 0
    said = " ".join(capsys.readouterr().out.split())  # rich wraps at the terminal's width
    assert "4 entries, chain intact; entries 1-3 match the archived copy" in said


# -- locks ------------------------------------------------------------------------------------

def test_named_locks_exclude_across_connections(database: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from skinrisk.records.locks import named_lock

    monkeypatch.setenv("SKINRISK_DATABASE_URL", _url(database, role="skinrisk_pipeline"))
    spans: dict[str, tuple[float, float]] = {}

    def hold(who: str, layout: StateLayout, name: str) -> None:
        with named_lock(layout, name):
            start = time.monotonic()
            time.sleep(0.3)
            spans[who] = (start, time.monotonic())

    # Two workers with different homes (no shared disk) on one name, a third on another name.
    threads = [threading.Thread(target=hold, args=("a", StateLayout(tmp_path / "a"), "promote")),
               threading.Thread(target=hold, args=("b", StateLayout(tmp_path / "b"), "promote")),
               threading.Thread(target=hold, args=("c", StateLayout(tmp_path / "c"), "ingest"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (a0, a1), (b0, b1), (c0, _) = spans["a"], spans["b"], spans["c"]
    assert a1 <= b0 or b1 <= a0  # one after the other
    assert c0 < max(a0, b0)  # another name is not held up behind them
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    with named_lock(StateLayout(tmp_path), "promote"):  # released: taken again at once
        pass


def test_a_lock_whose_session_ended_says_so_before_the_next_step(
        ledger_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The session ended (a restart, a dropped network): the lock is free for another holder,
    # and its holder must not take the irreversible step it was about to.
    from skinrisk.records.locks import named_lock
    from tests.helpers.postgres import terminate_sessions

    monkeypatch.setenv("SKINRISK_DATABASE_URL", _url(ledger_database, role="skinrisk_pipeline"))
    with named_lock(StateLayout(tmp_path), "promote") as lock:
        lock.confirm()  # held: nothing to say
        terminate_sessions(ledger_database)
        with named_lock(StateLayout(tmp_path / "other"), "promote"):
            pass  # another holder gets it at once
        with pytest.raises(SkinriskError, match="lost the lock 'promote'"):
            lock.confirm()
    monkeypatch.delenv("SKINRISK_DATABASE_URL")
    with named_lock(StateLayout(tmp_path), "promote") as lock:
        lock.confirm()  # a flock cannot be lost


def test_named_locks_are_flock_files_when_embedded(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from skinrisk.records.locks import named_lock

    monkeypatch.delenv("SKINRISK_DATABASE_URL", raising=False)
    with named_lock(StateLayout(tmp_path), "train-k1"):
        assert (tmp_path / "locks" / "train-k1.lock").is_file()


# -- carrying an embedded installation over ---------------------------------------------------

def _embedded_home(home: Path, patient: str = "MRN-7") -> dict[str, object]:
    """An embedded installation's records: a mapped patient, a file record, three events."""
    from skinrisk import ledger
    from skinrisk.records import open_private_store

    layout = StateLayout(home)
    with open_private_store(layout, {}) as store:
        mapped = {"patient": store.surrogate_patient("hospital-a", patient),
                  "lesion": store.surrogate_lesion("hospital-a", patient, "L1"),
                  "device": store.device_token("Pixel 7")}
        store.record_files("b1", [{"file_name": "a.jpg", "line": 2, "received_sha256": "aa",
                                   "outcome": "accepted", "image_id": "img1",
                                   "quarantine_id": None, "reason": None, "kind": "file",
                                   "signature": "s1"}])
    for k in range(3):
        ledger.record(layout, "batch_ingested", {"batch_id": f"b{k}", "accepted": k})
    mapped["hashes"] = [e["hash"] for e in ledger.read(layout)]
    return mapped


def test_an_embedded_installation_is_carried_over_unchanged(
        ledger_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from pipelines.cli import main
    from skinrisk import ledger
    from skinrisk.records import open_private_store

    monkeypatch.delenv("SKINRISK_DATABASE_URL", raising=False)
    before = _embedded_home(tmp_path)
    monkeypatch.setenv("SKINRISK_HOME", str(tmp_path))
    url = _url(ledger_database)
    assert main(["db", "import-embedded", "--admin-url", url]) == 0
    said = capsys.readouterr().out
    assert "patients 1" in said and "ledger entries 3" in said
    assert (tmp_path / "private" / "identity.sqlite.imported").is_file()
    assert not (tmp_path / "private" / "identity.sqlite").exists()
    assert (tmp_path / "ledger" / "ledger.jsonl.imported").is_file()

    monkeypatch.setenv("SKINRISK_DATABASE_URL", _url(ledger_database, "skinrisk_ingest"))
    layout = StateLayout(tmp_path)
    with open_private_store(layout) as store:  # no longer stopped by the leftover guard
        assert store.surrogate_patient("hospital-a", "mrn-7") == before["patient"]
        assert store.surrogate_lesion("hospital-a", "MRN-7", "L1") == before["lesion"]
        assert store.device_token("Pixel 7") == before["device"]
        assert store.files_of("b1")[0]["signature"] == "s1"
    assert [e["hash"] for e in ledger.read(layout)] == before["hashes"]
    assert ledger.check(layout).ok
    ledger.record(layout, "quality", {"n": 1})  # the chain goes on from the imported entries
    assert ledger.check(layout).ok and len(list(ledger.read(layout))) == 4
    assert main(["db", "import-embedded", "--admin-url", url]) == 1  # nothing left to import
    assert "nothing to import" in capsys.readouterr().err


def test_an_import_that_would_give_a_patient_two_ids_is_refused_whole(
        ledger_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from skinrisk.records.importer import import_embedded

    monkeypatch.delenv("SKINRISK_DATABASE_URL", raising=False)
    _embedded_home(tmp_path / "first")
    _embedded_home(tmp_path / "second")  # the same patient key, another random surrogate
    first, second = (StateLayout(tmp_path / n) for n in ("first", "second"))
    import_embedded(_url(ledger_database), first.private / "identity.sqlite",
                    first.ledger / "ledger.jsonl")
    with pytest.raises(SkinriskError, match=r"identity\.patients: a key .* mapped otherwise"):
        import_embedded(_url(ledger_database), second.private / "identity.sqlite",
                        second.ledger / "ledger.jsonl")
    assert (second.private / "identity.sqlite").is_file()  # nothing renamed, nothing half-in
    with psycopg.connect(_url(ledger_database)) as db:
        assert db.execute("SELECT count(*) FROM identity.patients").fetchone() == (1,)

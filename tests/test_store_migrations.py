"""Migrations: every earlier version upgrades to LATEST keeping its data; failures roll back."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import peewee
import pytest
from test_store_legacy_v0 import build_v0_database

from mrt.errors import MigrationError, StoreError
from mrt.store import legacy_v0
from mrt.store.db import open_database, open_store
from mrt.store.migrations import LATEST, STEPS, Step, migrate, schema_version
from mrt.store.models import Alert, AuditLog, Event, Outbox, SchemaVersion, SourceState

NOW = datetime(2026, 11, 22, 9, 45, tzinfo=UTC)
EARLIER = datetime(2026, 11, 1, 12, 0, 0, 250000, tzinfo=UTC)


def schema_of(db: peewee.Database, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Tables with their columns, indexes and foreign keys, as introspection sees them."""
    result: dict[str, Any] = {}
    for table in sorted(db.get_tables()):
        if table in skip:
            continue
        columns = sorted(
            (c.name, c.data_type.upper(), c.null, c.primary_key) for c in db.get_columns(table)
        )
        indexes = sorted((tuple(i.columns), i.unique) for i in db.get_indexes(table))
        fks = sorted((f.column, f.dest_table, f.dest_column) for f in db.get_foreign_keys(table))
        result[table] = {"columns": columns, "indexes": indexes, "foreign_keys": fks}
    return result


def fresh_latest_schema(tmp_path: Path) -> dict[str, Any]:
    db = open_database(tmp_path / "fresh.sqlite3")
    migrate(db, now=NOW)
    schema = schema_of(db)
    db.close()
    return schema


def insert_version_1_rows() -> dict[str, Any]:
    """Rows a version-1 database would hold; only columns version 1 had."""
    SourceState.create(
        source_key="github:vllm-project/vllm", source="github", cursor={"since": "2026-11-01T00:00:00Z"},
        updated_at=EARLIER,
    )
    event = Event.create(
        fingerprint="e" * 64, source="github", source_key="github:vllm-project/vllm",
        resource_type="issue", resource_id="vllm-project/vllm#1", event_type="issue_opened",
        event_id="1", title="Support DeepSeek-V4", labels=["model"], observed_at=EARLIER,
        details={"number": 1}, decision="notify",
    )
    alert = Alert.create(event=event, fingerprint=event.fingerprint, title=event.title, created_at=EARLIER)
    Outbox.create(
        alert=alert, channel="team", target="welink://***", subject="s", body="b",
        next_attempt_at=EARLIER, created_at=EARLIER, updated_at=EARLIER,
    )
    AuditLog.create(at=EARLIER, actor="cli", action="cursor.reset", params={"source_key": "x"})
    return {"event_id": event.id, "alert_id": alert.id}


def assert_version_1_rows_kept(ids: dict[str, Any]) -> None:
    state = SourceState.get_by_id("github:vllm-project/vllm")
    assert state.cursor == {"since": "2026-11-01T00:00:00Z"} and state.updated_at == EARLIER
    event = Event.get_by_id(ids["event_id"])
    assert (event.title, event.labels, event.details, event.observed_at) == (
        "Support DeepSeek-V4", ["model"], {"number": 1}, EARLIER,
    )
    assert event.silence is None  # the version-2 column, null on old rows
    alert = Alert.get_by_id(ids["alert_id"])
    assert alert.event.id == event.id
    assert Outbox.get(Outbox.alert == alert).target == "welink://***"
    assert AuditLog.get().params == {"source_key": "x"}


# By the steps' own numbers: parallel branches may leave a gap until the merge closes it.
@pytest.mark.parametrize("start", ["empty", "v0", *[f"v{s.version}" for s in STEPS[:-1]]])
def test_every_earlier_version_upgrades_to_latest(start: str, tmp_path: Path) -> None:
    path = tmp_path / "mrt.sqlite3"
    expected_rows: dict[str, Any] | None = None
    if start == "empty":
        path.touch()  # version 0: a file with nothing in it
    elif start == "v0":
        build_v0_database(path)
    else:
        version = int(start[1:])
        db = open_database(path)
        migrate(db, now=EARLIER, steps=tuple(s for s in STEPS if s.version <= version))
        assert schema_version(db) == version
        expected_rows = insert_version_1_rows()
        db.close()

    db = open_database(path)
    report = migrate(db, now=NOW)
    assert report.to_version == LATEST == schema_version(db)
    assert [s.split()[0] for s in report.steps] == [
        str(s.version) for s in STEPS if s.version > report.from_version
    ]
    if start == "empty":
        assert report.backup_path is None  # nothing to lose
    else:
        assert report.backup_path is not None and report.backup_path.exists()
        assert SchemaVersion.get_by_id(LATEST).backup_path == str(report.backup_path)
    if expected_rows is not None:
        assert_version_1_rows_kept(expected_rows)
    if start == "v0":
        assert report.upgraded_v0
        assert set(legacy_v0.V0_TABLES) <= set(db.get_tables())
    assert schema_of(db, skip=legacy_v0.V0_TABLES) == fresh_latest_schema(tmp_path)
    db.close()


def test_a_failing_step_rolls_back_and_names_the_step_and_the_backup(tmp_path: Path) -> None:
    path = tmp_path / "mrt.sqlite3"
    db = open_database(path)
    migrate(db, now=EARLIER, steps=STEPS[:1])
    ids = insert_version_1_rows()

    def broken(database: peewee.Database, now: datetime) -> None:
        database.execute_sql("CREATE TABLE half_done (x INTEGER)")
        database.execute_sql("UPDATE source_state SET cursor = NULL")
        raise RuntimeError("disk on fire")

    with pytest.raises(MigrationError) as caught:
        migrate(db, now=NOW, steps=(STEPS[0], Step(2, "broken", broken)))
    message = str(caught.value)
    assert "step 2 (broken)" in message and "disk on fire" in message
    backups = list(tmp_path.glob("mrt.v1-*.sqlite3"))
    assert len(backups) == 1 and str(backups[0]) in message
    assert schema_version(db) == 1
    assert "half_done" not in db.get_tables()
    assert_version_1_rows_kept_at_v1(ids)
    # the real step 2 still applies afterwards
    assert migrate(db, now=NOW).to_version == LATEST
    db.close()


def assert_version_1_rows_kept_at_v1(ids: dict[str, Any]) -> None:
    assert SourceState.get_by_id("github:vllm-project/vllm").cursor == {
        "since": "2026-11-01T00:00:00Z"
    }
    assert Alert.select().where(Alert.id == ids["alert_id"]).count() == 1


MIGRATE_IN_A_PROCESS = """
import sys
from datetime import UTC, datetime
from mrt.store.db import open_database
from mrt.store.migrations import migrate
db = open_database(sys.argv[1])
sys.stdin.readline()  # start together
report = migrate(db, now=datetime(2026, 11, 22, 10, 0, tzinfo=UTC))
print(",".join(report.steps))
"""


def test_two_processes_migrating_at_once_apply_each_step_once(tmp_path: Path) -> None:
    path = tmp_path / "mrt.sqlite3"
    db = open_database(path)
    migrate(db, now=EARLIER, steps=STEPS[:1])
    insert_version_1_rows()
    db.close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE_IN_A_PROCESS, str(path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate("go\n", timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    applied = sorted(out.strip() for out, _ in outputs)
    assert applied == ["", ",".join(f"{s.version} {s.name}" for s in STEPS[1:])]
    assert len(list(tmp_path.glob("mrt.v1-*.sqlite3"))) == 1
    conn = sqlite3.connect(path)
    assert [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY 1")] == [
        s.version for s in STEPS
    ]
    conn.close()


def test_backups_go_to_backup_dir_when_given(tmp_path: Path) -> None:
    path = tmp_path / "mrt.sqlite3"
    db = open_database(path)
    migrate(db, now=EARLIER, steps=STEPS[:1])
    report = migrate(db, now=NOW, backup_dir=tmp_path / "backups")
    assert report.backup_path is not None
    assert report.backup_path.parent == tmp_path / "backups"
    assert report.backup_path.name == "mrt.v1-20261122T094500Z.sqlite3"
    db.close()


def test_open_store_read_only_refuses_a_missing_file_and_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "data" / "mrt.sqlite3"
    with pytest.raises(StoreError) as caught:
        open_store(path, read_only=True)
    assert str(caught.value) == (
        f"no database at {path} yet: start mrt-worker or run `mrt db migrate`"
    )
    assert not path.parent.exists()


def test_open_store_read_only_refuses_an_old_schema_and_never_writes(tmp_path: Path) -> None:
    path = tmp_path / "mrt.sqlite3"
    db = open_database(path)
    migrate(db, now=EARLIER, steps=STEPS[:1])
    db.close()
    with pytest.raises(StoreError, match=r"version 1, this MRT needs .*mrt db migrate"):
        open_store(path, read_only=True)
    db = open_store(path, now=NOW)
    db.close()
    reader = open_store(path, read_only=True)
    assert schema_version(reader) == LATEST
    with pytest.raises(peewee.OperationalError, match=r"readonly|read-only|query_only"):
        SourceState.create(source_key="x", source="x", updated_at=NOW)
    reader.close()


def test_a_database_from_a_newer_mrt_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mrt.sqlite3"
    db = open_store(path, now=NOW)
    SchemaVersion.create(version=LATEST + 1, name="future", applied_at=NOW)
    db.close()
    with pytest.raises(StoreError, match="newer than this MRT"):
        open_store(path, now=NOW)

"""Backup, restore, check and prune: the functions and the `mrt db` commands over real files."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import peewee
import pytest

from mrt.cli import main
from mrt.errors import StoreError
from mrt.events import utcnow
from mrt.store.backup import backup, restore, sqlite_integrity
from mrt.store.db import open_store
from mrt.store.maintenance import integrity_check
from mrt.store.migrations import LATEST
from mrt.store.models import AuditLog, Event, SourceState, WorkerHeartbeat

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def add_state(key: str) -> None:
    SourceState.create(source_key=key, source="github", cursor={"since": key}, updated_at=NOW)


def keys_in(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT source_key FROM source_state")}
    finally:
        conn.close()


def test_backup_while_another_connection_holds_an_open_write(db: peewee.Database, tmp_path: Path) -> None:
    add_state("github:a/committed")
    with db.atomic("IMMEDIATE"):
        add_state("github:a/in-flight")
        copy = backup(Path(db.database), tmp_path / "copy.sqlite3")
    assert keys_in(copy) == {"github:a/committed"}  # a consistent snapshot, never half a write
    assert sqlite_integrity(copy) == ["ok"]
    with pytest.raises(StoreError, match="already exists"):
        backup(Path(db.database), copy)
    into_dir = backup(Path(db.database), tmp_path)
    assert into_dir.parent == tmp_path and keys_in(into_dir) == {
        "github:a/committed", "github:a/in-flight"
    }


def test_restore_keeps_the_current_file_and_refuses_bad_sources(db: peewee.Database, db_path: Path, tmp_path: Path) -> None:
    add_state("github:a/old")
    saved = backup(db_path, tmp_path / "saved.sqlite3")
    add_state("github:a/new")
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"refusing to restore .*garbage"):
        restore(db_path, garbage, now=NOW)
    with pytest.raises(StoreError, match="the database itself"):
        restore(db_path, db_path, now=NOW)

    WorkerHeartbeat.create(
        worker_id="w1", hostname="h", pid=1, version="1", started_at=NOW, heartbeat_at=NOW - timedelta(seconds=30)
    )
    with pytest.raises(StoreError, match=r"worker w1 .*--force"):
        restore(db_path, saved, now=NOW)
    assert keys_in(db_path) == {"github:a/old", "github:a/new"}  # refused: untouched

    report = restore(db_path, saved, now=NOW + timedelta(minutes=3))  # heartbeat now stale
    assert keys_in(db_path) == {"github:a/old"}
    assert report.previous_copy is not None
    assert keys_in(report.previous_copy) == {"github:a/old", "github:a/new"}
    # the open connection sees the restored content too
    assert {s.source_key for s in SourceState.select()} == {"github:a/old"}
    assert integrity_check(db) == ["ok"]


def test_restore_with_force_while_a_worker_is_alive(db: peewee.Database, db_path: Path, tmp_path: Path) -> None:
    saved = backup(db_path, tmp_path / "saved.sqlite3")
    WorkerHeartbeat.create(
        worker_id="w1", hostname="h", pid=1, version="1", started_at=NOW, heartbeat_at=NOW
    )
    restore(db_path, saved, now=NOW, force=True)
    assert WorkerHeartbeat.select().count() == 0


def test_integrity_check_finds_a_dangling_foreign_key(db: peewee.Database) -> None:
    db.execute_sql("PRAGMA foreign_keys = OFF")
    db.execute_sql(
        "INSERT INTO alert (kind, event_id, title, priority, tags, matched, payload, created_at)"
        " VALUES ('event', 999, '', 'normal', '[]', '[]', '{}', '2026-11-22 10:00:00')"
    )
    db.execute_sql("PRAGMA foreign_keys = ON")
    problems = integrity_check(db)
    assert problems != ["ok"] and "alert" in problems[0] and "event" in problems[0]


# ---- the commands -------------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_db_commands_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "state" / "mrt.sqlite3"
    code, out, err = run(capsys, "db", "check", "--db", str(path))
    assert code == 1 and "no database at" in err and "mrt db migrate" in err

    code, out, _ = run(capsys, "db", "migrate", "--db", str(path))
    assert code == 0 and f"schema version 0 -> {LATEST}" in out
    code, out, _ = run(capsys, "db", "migrate", "--db", str(path))
    assert code == 0 and "already at schema version" in out

    code, out, _ = run(capsys, "db", "path", "--db", str(path))
    assert out.strip() == str(path)
    code, out, _ = run(capsys, "db", "check", "--db", str(path))
    assert code == 0 and "  ok" in out

    db = open_store(path, now=NOW)
    old = utcnow() - timedelta(days=200)
    Event.create(
        fingerprint="f" * 64, source="github", source_key="github:a/b", resource_type="issue",
        resource_id="a/b#1", event_type="issue_opened", event_id="1", title="t", observed_at=old,
    )
    add_state("github:a/b")
    db.close()

    code, out, _ = run(capsys, "db", "prune", "--dry-run", "--db", str(path))
    assert code == 0 and out.startswith("would delete 1 events")
    code, out, _ = run(capsys, "db", "prune", "--db", str(path))
    assert code == 0 and out.startswith("deleted 1 events")

    code, out, _ = run(capsys, "db", "backup", str(tmp_path / "b.sqlite3"), "--db", str(path))
    assert code == 0 and Path(out.strip()) == tmp_path / "b.sqlite3"
    code, out, _ = run(capsys, "db", "backup", "--db", str(path))
    assert code == 0 and Path(out.strip()).parent == path.parent

    db = open_store(path, now=NOW)
    SourceState.delete().execute()
    db.close()
    code, out, err = run(capsys, "db", "restore", str(tmp_path / "b.sqlite3"), "--db", str(path))
    assert code == 1 and "--yes" in err  # no terminal to ask on: refuse
    code, out, _ = run(
        capsys, "db", "restore", str(tmp_path / "b.sqlite3"), "--yes", "--db", str(path)
    )
    assert code == 0 and "restored" in out and "kept at" in out
    assert keys_in(path) == {"github:a/b"}

    db = open_store(path, now=NOW)
    actions = [a.action for a in AuditLog.select().order_by(AuditLog.id)]
    # the restored file holds what was audited up to its backup, then the restore itself
    assert actions == ["db.migrate", "db.prune", "db.restore"]
    db.close()


def test_db_commands_speak_clearly_about_postgres_and_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "db", "backup", "--db", "postgresql://u:secret@127.0.0.1:1/x")
    assert code == 1 and "pg_dump" in err and "secret" not in err
    not_db = tmp_path / "notes.txt"
    not_db.write_text("hello " * 1000)
    code, _, err = run(capsys, "db", "check", "--db", str(not_db))
    assert code == 1 and "notes.txt" in err and "not a database" in err
    with pytest.raises(SystemExit):
        main(["db", "prune", "--events-days", "0", "--db", str(tmp_path / "x.sqlite3")])

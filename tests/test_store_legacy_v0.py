"""Upgrading a v0 state database in place, built here from the facts in issue 2."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import peewee
import pytest

from mrt.events import fingerprint_of
from mrt.store import legacy_v0
from mrt.store.db import open_database, open_store
from mrt.store.maintenance import integrity_check
from mrt.store.migrations import LATEST, STEPS, migrate, schema_version
from mrt.store.models import Alert, SchemaVersion, SourceState, V0NotifyFailure, V0SeenEvent

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
WORKED_EXAMPLE = "19cf1579457629ee850bd2056cc2410ca4652795078ae1df2bd3f971fc3901e8"

# v0's DDL, exactly as the issue gives it.
V0_DDL = (
    "CREATE TABLE cursors(source_key TEXT PRIMARY KEY, cursor TEXT, updated_at TEXT)",
    "CREATE TABLE seen_events(fingerprint TEXT PRIMARY KEY, first_seen_at TEXT)",
    "CREATE TABLE alerts(fingerprint TEXT PRIMARY KEY, alert_json TEXT, created_at TEXT)",
    "CREATE TABLE notify_failures(id INTEGER PRIMARY KEY, fingerprint, channel, error, created_at)",
)

V0_CURSORS = {
    "github:vllm-project/vllm:issues": {"updated_after": "2025-06-03T08:15:00Z"},
    "github:vllm-project/vllm:pulls": {"updated_after": "2025-06-02T23:59:59Z"},
    "github:sgl-project/sglang:issues": {"updated_after": "2025-06-01T10:00:00Z"},
    "github:sgl-project/sglang:pulls": {"updated_after": "2025-06-03T10:00:00Z"},
    "huggingface:deepseek-ai:models": {"last_modified_after": "2025-05-28T12:00:00.000Z"},
    "modelscope:deepseek-ai:models": {
        "known_model_ids": ["deepseek-ai/DeepSeek-R1", "deepseek-ai/DeepSeek-V3"]
    },
}


def v0_issue_fingerprint(issue_id: int) -> str:
    return fingerprint_of("github", "repo_issue", "vllm-project/vllm", "issue_updated", str(issue_id))


def build_v0_database(path: Path) -> dict[str, object]:
    """A v0 state file with realistic rows; returns what the test expects to find afterwards."""
    seen = {
        v0_issue_fingerprint(2345678901): "2025-06-03T08:14:11+00:00",
        fingerprint_of("github", "repo_pr", "sgl-project/sglang", "pr_merged", "2501234567"): (
            "2025-06-03T09:00:00+00:00"
        ),
        fingerprint_of("huggingface", "org_model", "deepseek-ai", "model_updated", "a1b2c3d4e5"): (
            "2025-05-28T12:00:01+00:00"
        ),
        fingerprint_of("modelscope", "org_model", "deepseek-ai", "model_added", "deepseek-ai/DeepSeek-R1"): (
            "2025-05-20T00:00:00+00:00"
        ),
    }
    alert_fp = v0_issue_fingerprint(2345678901)
    alert_json = {
        "source": "github",
        "resource_type": "repo_issue",
        "resource_id": "vllm-project/vllm",
        "event_type": "issue_updated",
        "event_id": "2345678901",
        "title": "[Feature]: DeepSeek-V3 MTP support",
        "url": "https://github.com/vllm-project/vllm/issues/12345",
        "matched_keywords": ["deepseek"],
    }
    conn = sqlite3.connect(path)
    for ddl in V0_DDL:
        conn.execute(ddl)
    conn.executemany(
        "INSERT INTO cursors VALUES (?, ?, ?)",
        [(k, json.dumps(v), "2025-06-03T09:05:00+00:00") for k, v in V0_CURSORS.items()],
    )
    conn.executemany("INSERT INTO seen_events VALUES (?, ?)", list(seen.items()))
    conn.execute(
        "INSERT INTO alerts VALUES (?, ?, ?)",
        (alert_fp, json.dumps(alert_json, ensure_ascii=False), "2025-06-03T08:14:12+00:00"),
    )
    conn.execute(
        "INSERT INTO notify_failures (fingerprint, channel, error, created_at) VALUES (?, ?, ?, ?)",
        (alert_fp, "welink", "HTTP 500 from the WeLink robot", "2025-06-03T08:14:13+00:00"),
    )
    conn.commit()
    conn.close()
    return {"seen": seen, "alert_fp": alert_fp, "alert_json": alert_json}


def v0_snapshot(path: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(path)
    try:
        return {
            t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall())
            for t in legacy_v0.V0_TABLES
        }
    finally:
        conn.close()


def test_the_v0_recipe_gives_the_worked_example() -> None:
    assert v0_issue_fingerprint(2345678901) == WORKED_EXAMPLE


class Upgraded(NamedTuple):
    db: peewee.Database
    path: Path
    facts: dict[str, object]
    before: dict[str, list[tuple[object, ...]]]  # the v0 tables' rows before the upgrade


@pytest.fixture
def upgraded(tmp_path: Path) -> Iterator[Upgraded]:
    path = tmp_path / "state.sqlite3"
    facts = build_v0_database(path)
    before = v0_snapshot(path)
    db = open_store(path, now=NOW)
    yield Upgraded(db, path, facts, before)
    db.close()


def test_upgrade_backs_up_first_and_the_backup_is_the_v0_file(upgraded: Upgraded) -> None:
    path, before = upgraded.path, upgraded.before
    row = SchemaVersion.get_by_id(1)
    assert row.backup_path is not None
    backup = Path(row.backup_path)
    assert backup.exists() and backup.parent == path.parent
    assert backup.name.startswith("state.v0-20261122T093000Z")
    assert v0_snapshot(backup) == before
    conn = sqlite3.connect(backup)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    assert tables == set(legacy_v0.V0_TABLES)  # a v0 database, nothing of v1 in it


def test_upgrade_keeps_every_cursors_progress_in_v1_shapes(upgraded: Upgraded) -> None:
    states = {s.source_key: s for s in SourceState.select()}
    assert {k: s.cursor for k, s in states.items()} == {
        # the earlier of issues/pulls, so one v1 request skips nothing
        "github:vllm-project/vllm": {"since": "2025-06-02T23:59:59Z"},
        "github:sgl-project/sglang": {"since": "2025-06-01T10:00:00Z"},
        "huggingface:deepseek-ai": {"last_modified_after": "2025-05-28T12:00:00.000Z"},
        "modelscope:deepseek-ai": {
            "known_model_ids": ["deepseek-ai/DeepSeek-R1", "deepseek-ai/DeepSeek-V3"]
        },
    }
    for state in states.values():
        assert state.health == "ok" and state.health_detail == "upgraded from v0"
        assert state.source == state.source_key.split(":")[0]
        assert state.last_success_at == datetime(2025, 6, 3, 9, 5, tzinfo=UTC)


def test_upgrade_keeps_v0_alerts_failures_and_seen_events_visible(upgraded: Upgraded) -> None:
    facts = upgraded.facts
    (alert,) = Alert.select()
    assert alert.kind == "v0"
    assert alert.fingerprint == facts["alert_fp"] == WORKED_EXAMPLE
    assert alert.payload == facts["alert_json"]
    assert alert.title == "[Feature]: DeepSeek-V3 MTP support"
    assert alert.source_key == "github:vllm-project/vllm"
    assert alert.created_at == datetime(2025, 6, 3, 8, 14, 12, tzinfo=UTC)
    (failure,) = V0NotifyFailure.select()
    assert (failure.fingerprint, failure.channel) == (WORKED_EXAMPLE, "welink")
    assert failure.error == "HTTP 500 from the WeLink robot"
    assert {r.fingerprint: r.first_seen_at for r in V0SeenEvent.select()} == facts["seen"]


def test_legacy_seen_answers_for_v0_fingerprints(upgraded: Upgraded) -> None:
    never = v0_issue_fingerprint(1)
    assert legacy_v0.legacy_seen([WORKED_EXAMPLE, never, WORKED_EXAMPLE]) == {WORKED_EXAMPLE}
    assert legacy_v0.legacy_seen([]) == set()
    many = [v0_issue_fingerprint(i) for i in range(1200)]  # more than one query's worth
    assert legacy_v0.legacy_seen([*many, WORKED_EXAMPLE]) == {WORKED_EXAMPLE}


def test_v0_tables_are_left_untouched_and_the_file_is_sound(upgraded: Upgraded) -> None:
    db, path, _, before = upgraded
    assert v0_snapshot(path) == before
    assert schema_version(db) == LATEST
    assert integrity_check(db) == ["ok"]


def test_migrating_again_is_a_no_op(upgraded: Upgraded) -> None:
    db, path = upgraded.db, upgraded.path
    counts = (SourceState.select().count(), Alert.select().count(), V0SeenEvent.select().count())
    files = sorted(p.name for p in path.parent.iterdir())
    report = migrate(db, now=NOW)
    assert report.steps == [] and report.backup_path is None
    assert (report.from_version, report.to_version) == (LATEST, LATEST)
    assert counts == (SourceState.select().count(), Alert.select().count(), V0SeenEvent.select().count())
    assert sorted(p.name for p in path.parent.iterdir()) == files  # no new backup either
    db.close()
    reopened = open_store(path, now=NOW)
    assert SchemaVersion.select().count() == len(STEPS)  # one row per step (numbers may gap)
    reopened.close()


def test_reading_a_v0_database_read_only_tells_the_operator_what_to_run(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    build_v0_database(path)
    from mrt.errors import StoreError

    with pytest.raises(StoreError, match=r"schema version 0.*mrt db migrate"):
        open_store(path, read_only=True)
    db = open_database(path)
    assert legacy_v0.is_v0_database(db)
    db.close()


def test_cursor_rows_v0_never_wrote_are_left_in_the_v0_table_only() -> None:
    rows = [
        ("github:a/b:issues", "not json", None),
        ("github:a/b:releases", json.dumps({"updated_after": "2025-01-01T00:00:00Z"}), None),
        ("rss:feed", json.dumps({"x": 1}), None),
        ("github:c/d:pulls", json.dumps({"updated_after": "2025-01-02T00:00:00Z"}), None),
    ]
    converted = legacy_v0.convert_cursors(rows)
    assert {k: v.cursor for k, v in converted.items()} == {
        "github:c/d": {"since": "2025-01-02T00:00:00Z"}
    }


def test_mrt_db_migrate_upgrades_a_v0_file_and_says_where_the_backup_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mrt.cli import main

    path = tmp_path / "state.sqlite3"
    build_v0_database(path)
    assert main(["db", "migrate", "--db", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"schema version 0 -> {LATEST}" in out and "upgraded the v0 state in place" in out
    backup_line = next(line for line in out.splitlines() if "backup taken first" in line)
    backup = Path(backup_line.split(": ", 1)[1])
    assert backup.exists() and set(v0_snapshot(backup)) == set(legacy_v0.V0_TABLES)
    db = open_store(path, read_only=True)
    assert SourceState.select().count() == 4
    db.close()

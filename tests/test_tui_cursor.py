"""Cursor reset (mrt.ops.cursor) and `mrt cursor reset`: backup first, cursor moved, audited."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import peewee
import pytest
from tui_seed import NOW, SOURCES, add_source

from mrt.cli import main as mrt_main
from mrt.errors import StoreError
from mrt.ops.cursor import parse_reset_target, reset_cursor
from mrt.store.models import AuditLog, SourceState


def test_reset_to_a_date_backs_up_then_moves_cursor(db: peewee.Database, tmp_path: Path) -> None:
    add_source(SOURCES[0])
    report = reset_cursor(
        db,
        SOURCES[0],
        datetime(2026, 11, 1, tzinfo=UTC),
        now=NOW,
        backup_dir=tmp_path / "bk",
        actor="tui",
        reason="missed a release",
    )
    assert report.old_cursor == {"since": "2026-11-20T09:28:00Z"}
    assert report.new_cursor == {
        "since": "2026-11-01T00:00:00Z",
        "reset_to": "2026-11-01T00:00:00Z",
    }
    state = SourceState.get_by_id(SOURCES[0])
    assert state.cursor == report.new_cursor
    assert state.validators == {}  # or the next poll is a 304 and sees nothing
    assert state.poll_requested_at == NOW
    # The backup is a real database holding the old cursor.
    assert report.backup_path is not None and report.backup_path.parent == tmp_path / "bk"
    with sqlite3.connect(report.backup_path) as copy:
        (old,) = copy.execute(
            "SELECT cursor FROM source_state WHERE source_key = ?", (SOURCES[0],)
        ).fetchone()
    assert '"since": "2026-11-20T09:28:00Z"' in old
    audit = AuditLog.get()
    assert (audit.actor, audit.action, audit.reason) == ("tui", "cursor.reset", "missed a release")
    assert audit.result["backup_path"] == str(report.backup_path)


def test_reset_to_baseline_clears_cursor_with_plugin_keys(db: peewee.Database) -> None:
    add_source(SOURCES[1], cursor={"last_modified_after": "x"})
    report = reset_cursor(db, SOURCES[1], "baseline", now=NOW, actor="cli")
    assert report.new_cursor is None and SourceState.get_by_id(SOURCES[1]).cursor is None
    assert report.backup_path is not None and report.backup_path.parent.name == "backups"
    report = reset_cursor(db, SOURCES[1], datetime(2026, 1, 1, tzinfo=UTC), now=NOW, actor="cli")
    assert report.new_cursor == {
        "last_modified_after": "2026-01-01T00:00:00Z",
        "reset_to": "2026-01-01T00:00:00Z",
    }


def test_unknown_plugin_gets_only_reset_to(db: peewee.Database) -> None:
    add_source("rss:blog")
    report = reset_cursor(db, "rss:blog", datetime(2026, 1, 1, tzinfo=UTC), now=NOW, actor="cli")
    assert report.new_cursor == {"reset_to": "2026-01-01T00:00:00Z"}


def test_unknown_source_is_a_clear_error_and_nothing_is_backed_up(
    db: peewee.Database, tmp_path: Path
) -> None:
    with pytest.raises(StoreError, match="no source 'github:nope/nope'"):
        reset_cursor(db, "github:nope/nope", "baseline", now=NOW, backup_dir=tmp_path / "bk",
                     actor="cli")
    assert not (tmp_path / "bk").exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("baseline", "baseline"),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T08:00:00Z", datetime(2026, 11, 1, 8, tzinfo=UTC)),
    ],
)
def test_parse_reset_target(text: str, expected: object) -> None:
    assert parse_reset_target(text) == expected


def test_parse_reset_target_rejects_garbage() -> None:
    with pytest.raises(StoreError, match="expected 'baseline', a date"):
        parse_reset_target("last tuesday")


def test_cli_reset_with_yes(
    db: peewee.Database, db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_source(SOURCES[0])
    code = mrt_main(
        [
            "cursor",
            "reset",
            SOURCES[0],
            "--to",
            "2026-11-01",
            "--yes",
            "--reason",
            "re-read November",
            "--db",
            str(db_path),
            "--backup-dir",
            str(tmp_path / "bk"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "backup: " in out and list((tmp_path / "bk").iterdir())
    assert SourceState.get_by_id(SOURCES[0]).cursor["since"] == "2026-11-01T00:00:00Z"
    assert AuditLog.get().reason == "re-read November"


def test_cli_refuses_without_a_terminal_or_yes(
    db: peewee.Database, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_source(SOURCES[0])
    code = mrt_main(["cursor", "reset", SOURCES[0], "--to", "baseline", "--db", str(db_path)])
    assert code == 1
    assert "--yes" in capsys.readouterr().err
    assert SourceState.get_by_id(SOURCES[0]).cursor is not None


def test_cli_missing_database_and_bad_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.sqlite3"
    assert mrt_main(["cursor", "reset", "k", "--to", "baseline", "--db", str(missing)]) == 1
    assert "no database at" in capsys.readouterr().err and not missing.exists()
    assert mrt_main(["cursor", "reset", "k", "--to", "soon", "--db", str(missing)]) == 1
    assert "expected 'baseline'" in capsys.readouterr().err

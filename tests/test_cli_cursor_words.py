"""`mrt cursor reset` speaks in sentences: the cursor in words, not a Python repr (issue 17)."""

from __future__ import annotations

from pathlib import Path

import peewee
import pytest
from tui_seed import SOURCES, add_source

from mrt.cli import main
from mrt.store.models import SourceState, database_proxy


def test_cursor_reset_prints_sentences(
    db: peewee.Database, db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_source(SOURCES[0])  # cursor {"since": "2026-11-20T09:28:00Z"}
    code = main(["cursor", "reset", SOURCES[0], "--to", "2026-11-01", "--yes", "--db",
                 str(db_path), "--backup-dir", str(tmp_path / "bk")])
    database_proxy.initialize(db)
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == f"{SOURCES[0]}: the cursor stands at since 2026-11-20T09:28:00Z."
    assert lines[1] == (
        "After the reset, the next poll reads from 2026-11-01T00:00:00Z (changes since then are "
        "alerted). The database is backed up first."
    )
    assert lines[-1] == f"{SOURCES[0]}: the cursor is reset."
    assert "{" not in out and "'" not in out and "None" not in out  # no Python repr
    assert SourceState.get_by_id(SOURCES[0]).cursor["reset_to"] == "2026-11-01T00:00:00Z"

    capsys.readouterr()
    assert main(["cursor", "reset", SOURCES[0], "--to", "baseline", "--yes", "--db",
                 str(db_path), "--backup-dir", str(tmp_path / "bk")]) == 0
    database_proxy.initialize(db)
    out = capsys.readouterr().out
    assert "the cursor stands at reset_to 2026-11-01T00:00:00Z" in out
    assert "After the reset, the next poll records a silent baseline" in out

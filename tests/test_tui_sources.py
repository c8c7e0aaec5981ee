"""Sources and metrics screens with Pilot: poll now, reset cursor (backup + move), figures."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import peewee
import pytest
from textual.widgets import DataTable, Input, Static
from tui_pilot import console, settle
from tui_seed import NOW, SOURCES, console_scene

from mrt.store.models import AuditLog, SourceState
from tui.screens.reset_cursor import ResetCursorScreen
from tui.screens.sources import SourcesScreen
from tui.widgets.source_table import SourceTable

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_sources_show_health(
    db: peewee.Database, db_path: Path, size: tuple[int, int]
) -> None:
    console_scene()
    app = console(db_path)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SourcesScreen)
        table = screen.query_one(SourceTable)
        assert table.keys == sorted(SOURCES)
        await pilot.press("down")
        await settle(pilot)
        detail = str(screen.query_one("#source-detail", Static).render())
        assert "4 failure(s) in a row: HTTP 503" in detail
        assert "last_modified_after" in detail


async def test_poll_now_really_sets_poll_requested_at(db: peewee.Database, db_path: Path) -> None:
    console_scene()
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("down", "n")
        await settle(pilot)
    assert SourceState.get_by_id(SOURCES[1]).poll_requested_at == NOW
    assert SourceState.get_by_id(SOURCES[0]).poll_requested_at is None
    audit = AuditLog.get()
    assert (audit.actor, audit.action, audit.params) == (
        "tui",
        "source.poll",
        {"source_key": SOURCES[1]},
    )


async def test_reset_cursor_modal_backs_up_and_moves_the_cursor(
    db: peewee.Database, db_path: Path, tmp_path: Path
) -> None:
    console_scene()
    backups = tmp_path / "backups-here"
    app = console(db_path, backup_dir=backups)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, ResetCursorScreen)
        explain = str(modal.query_one("#reset-explain", Static).render())
        assert str(backups) in explain and "2026-11-20T00:00:00Z" in explain
        modal.query_one("#reset-to", Input).value = "2026-11-01"
        await pilot.pause()
        assert "2026-11-01T00:00:00Z" in str(modal.query_one("#reset-explain", Static).render())
        await pilot.press("enter", *"missed v0.9", "enter")
        await settle(pilot)
        assert isinstance(app.screen, SourcesScreen)
    state = SourceState.get_by_id(SOURCES[0])
    assert state.cursor == {"since": "2026-11-01T00:00:00Z", "reset_to": "2026-11-01T00:00:00Z"}
    assert state.validators == {}
    [backup] = list(backups.iterdir())
    with sqlite3.connect(backup) as copy:
        (old,) = copy.execute(
            "SELECT cursor FROM source_state WHERE source_key = ?", (SOURCES[0],)
        ).fetchone()
    assert "2026-11-20T09:28:00Z" in old
    audit = AuditLog.get()
    assert (audit.actor, audit.action, audit.reason) == ("tui", "cursor.reset", "missed v0.9")


async def test_reset_to_baseline_and_cancel(
    db: peewee.Database, db_path: Path, tmp_path: Path
) -> None:
    console_scene()
    app = console(db_path, backup_dir=tmp_path / "bk")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("c", "escape")  # cancelled: nothing happens
        await settle(pilot)
        assert SourceState.get_by_id(SOURCES[0]).cursor is not None
        await pilot.press("c")
        await settle(pilot)
        app.screen.query_one("#reset-to", Input).value = "baseline"
        await pilot.pause()
        assert "silent baseline" in str(app.screen.query_one("#reset-explain", Static).render())
        await pilot.press("enter", "enter")
        await settle(pilot)
    assert SourceState.get_by_id(SOURCES[0]).cursor is None


async def test_metrics_screen_shows_numbers(db: peewee.Database, db_path: Path) -> None:
    console_scene()
    app = console(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        figures = str(app.screen.query_one("#metrics-day .metrics-figures", Static).render())
        assert "alerts 12" in figures and "dead 3" in figures
        table = app.screen.query_one("#metrics-table", DataTable)
        assert table.row_count == 1 + len(SOURCES)
        assert str(table.get_row("*")[4]) == "12"  # alerts in 24 h, all sources

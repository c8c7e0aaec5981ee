"""Live panes keep every row on screen true, wherever the selection is: a second connection
(the worker, in real life) changes outbox and alert rows while the operator reads row K>0."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import peewee
import pytest
from textual.widgets import Static
from tui_pilot import console, settle
from tui_seed import console_scene

from tui.screens.alerts import AlertsScreen
from tui.screens.deliveries import DeliveriesScreen
from tui.widgets.alert_table import AlertTable
from tui.widgets.outbox_table import OutboxTable

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def writer(db_path: Path, sql: str, *params: object) -> None:
    """The worker's side: its own connection, its own transaction."""
    con = sqlite3.connect(db_path)
    try:
        with con:
            con.execute(sql, params)
    finally:
        con.close()


async def test_deliveries_rows_below_the_selection_follow_the_database(
    db: peewee.Database, db_path: Path
) -> None:
    console_scene()
    app = console(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DeliveriesScreen)
        table = screen.query_one(OutboxTable)
        await pilot.press("down", "down")  # the operator reads row 2: off the top
        await settle(pilot)
        reading = table.highlighted_id()
        target = next(i for i in table.on_screen_ids()[3:] if table.rows_by_id[i].status != "sent")
        writer(db_path, "UPDATE outbox SET status = 'sent', last_error = NULL WHERE status != 'sent'")
        screen.poll_live()
        await settle(pilot)
        assert table.highlighted_id() == reading and table.cursor_row == 2
        statuses = {table.rows_by_id[i].status for i in table.on_screen_ids()}
        assert statuses == {"sent"}, statuses  # no row contradicts the counts line
        assert table.rows_by_id[target].status == "sent"
        counts = str(screen.query_one("#outbox-counts", Static).render())
        assert "dead 0" in counts and "retrying 0" in counts, counts


async def test_alerts_rows_below_the_selection_show_their_deliveries_now(
    db: peewee.Database, db_path: Path
) -> None:
    console_scene()
    app = console(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AlertsScreen)
        table = screen.query_one(AlertTable)
        await pilot.press("down", "down", "down")
        await settle(pilot)
        reading = table.highlighted_id()
        stale = [i for i in table.on_screen_ids() if set(table.alert_rows[i].deliveries) != {"sent"}]
        assert stale and any(table.ids.index(i) > 3 for i in stale)
        writer(db_path, "UPDATE outbox SET status = 'sent' WHERE status != 'sent'")
        writer(db_path, "UPDATE alert SET acknowledged_at = '2026-11-20 09:29:00' WHERE id = ?",
               stale[-1])
        screen.poll_newer()
        await settle(pilot)
        assert table.highlighted_id() == reading and table.cursor_row == 3
        for alert_id in table.on_screen_ids():
            assert set(table.alert_rows[alert_id].deliveries) == {"sent"}, alert_id
        assert table.alert_rows[stale[-1]].acknowledged

"""The alerts screen with Pilot, asserting on the database and on what the table holds."""

from __future__ import annotations

from pathlib import Path

import peewee
import pytest
from textual.widgets import Static
from tui_pilot import console, settle
from tui_seed import NOW, add_alert, bulk_alerts, console_scene

from mrt.store.models import Alert, AuditLog
from tui.screens.alerts import AlertsScreen
from tui.widgets.alert_detail import AlertDetailPane
from tui.widgets.alert_table import AlertTable
from tui.widgets.new_badge import NewBadge

SIZES = [(80, 24), (120, 40)]
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def text_of(widget: Static) -> str:
    return str(widget.render())


@pytest.mark.parametrize("size", SIZES)
async def test_first_page_newest_first_with_detail(
    db: peewee.Database, db_path: Path, size: tuple[int, int]
) -> None:
    console_scene()
    app = console(db_path)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AlertsScreen)
        table = screen.query_one(AlertTable)
        newest = Alert.select().order_by(Alert.id.desc()).first()
        assert table.row_count == 12 and table.highlighted_id() == newest.id
        body = text_of(screen.query_one("#alert-detail-body", Static))
        assert newest.title in body and "Why it matched" in body and "welink" in body


async def test_acknowledge_really_sets_acknowledged_at(db: peewee.Database, db_path: Path) -> None:
    console_scene()
    newest = Alert.select().order_by(Alert.id.desc()).first().id
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
    row = Alert.get_by_id(newest)
    assert row.acknowledged_at == NOW and row.acknowledged_by.startswith("tui")
    assert Alert.select().where(Alert.acknowledged_at.is_null(False)).count() == 1
    audit = AuditLog.get()
    assert (audit.actor, audit.action, audit.params) == (
        "tui",
        "alert.acknowledge",
        {"alert_ids": [newest]},
    )


async def test_marked_rows_are_acknowledged_together(db: peewee.Database, db_path: Path) -> None:
    console_scene()
    ids = [a.id for a in Alert.select().order_by(Alert.id.desc())]
    app = console(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("space", "down", "space", "a")  # marks rows 0 and 2
        await settle(pilot)
    acked = {a.id for a in Alert.select().where(Alert.acknowledged_at.is_null(False))}
    assert acked == {ids[0], ids[2]}


async def test_filter_is_pushed_to_sql_beyond_the_first_page(
    db: peewee.Database, db_path: Path
) -> None:
    needle = add_alert("The needle release", at=NOW.replace(year=2025))
    bulk_alerts(5000)
    app = console(db_path, page_size=100)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(AlertTable)
        assert table.row_count == 100 and needle not in table.ids
        await pilot.press("slash", *"needle", "enter")
        await settle(pilot)
        assert table.ids == [needle]
        assert "needle" in text_of(app.screen.query_one("#filter-line", Static))
        await pilot.press("escape")
        await settle(pilot)
        assert table.row_count == 100


async def test_bad_filter_says_what_is_wrong(db: peewee.Database, db_path: Path) -> None:
    console_scene()
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"prio:urgent", "enter")
        await settle(pilot)
        assert any("urgent" in str(n.message) for n in app._notifications)
        assert app.screen.query_one(AlertTable).row_count == 12


async def test_new_rows_become_a_badge_and_the_highlight_stays_on_its_alert(
    db: peewee.Database, db_path: Path
) -> None:
    bulk_alerts(40)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AlertsScreen)
        table = screen.query_one(AlertTable)
        await pilot.press("down", "down", "down", "down", "down")  # the operator reads row K=5
        await settle(pilot)
        reading = table.highlighted_id()
        shown_detail = screen.query_one(AlertDetailPane).shown_id
        before = list(table.ids)
        new = [add_alert(f"Arrived {i}") for i in range(3)]
        screen.poll_newer()
        await settle(pilot)
        assert table.highlighted_id() == reading and table.cursor_row == 5
        assert table.ids == before  # nothing moved under the cursor
        assert screen.query_one(NewBadge).count == 3
        assert screen.query_one(AlertDetailPane).shown_id == shown_detail  # frozen
        await pilot.press("n")  # show them: back to the newest
        await settle(pilot)
        assert table.ids[:3] == sorted(new, reverse=True)
        assert screen.query_one(NewBadge).count == 0


async def test_at_the_top_new_rows_slide_in_above_the_highlight(
    db: peewee.Database, db_path: Path
) -> None:
    bulk_alerts(10)
    app = console(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AlertsScreen)
        table = screen.query_one(AlertTable)
        top = table.highlighted_id()
        new = [add_alert(f"Arrived {i}") for i in range(2)]
        screen.poll_newer()
        await settle(pilot)
        assert table.ids[:2] == sorted(new, reverse=True)
        assert table.highlighted_id() == top and table.row_count == 12
        assert screen.query_one(NewBadge).count == 0


async def test_paging_down_loads_older_pages_by_keyset(db: peewee.Database, db_path: Path) -> None:
    bulk_alerts(350)
    app = console(db_path, page_size=100)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(AlertTable)
        assert table.row_count == 100
        for _ in range(12):
            await pilot.press("pagedown")
            await settle(pilot, rounds=1)
        assert table.row_count >= 200
        assert table.ids == sorted(table.ids, reverse=True) and len(set(table.ids)) == len(
            table.ids
        )
        await pilot.press("ctrl+end")
        for _ in range(4):
            await pilot.press("ctrl+end")
            await settle(pilot, rounds=1)
        assert table.row_count == 350


async def test_pause_stops_live_updates_and_says_so(db: peewee.Database, db_path: Path) -> None:
    bulk_alerts(5)
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        assert app.paused
        assert "paused" in text_of(app.screen.query_one("#banner", Static)).lower()
        assert "PAUSED" in text_of(app.screen.query_one("#status-bar", Static))
        add_alert("While paused")
        screen = app.screen
        assert isinstance(screen, AlertsScreen)
        screen.poll_newer()
        await settle(pilot)
        assert screen.query_one(AlertTable).row_count == 5
        assert screen.query_one(NewBadge).count == 0
        await pilot.press("p")
        screen.poll_newer()
        await settle(pilot)
        assert screen.query_one(AlertTable).row_count == 6


async def test_empty_database_says_what_to_do(db: peewee.Database, db_path: Path) -> None:
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        hint = text_of(app.screen.query_one("#empty-hint", Static))
        assert "No alerts yet" in hint and "mrt-worker" in hint
        assert "No worker has run" in text_of(app.screen.query_one("#banner", Static))

"""The console's Events screen: every event with why, filters in SQL, keyset paging, live rows;
and the wiring of issue 17's three views (keys 7 8 9, help, palette, --screen)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import peewee
import pytest
from textual.command import CommandPalette
from textual.widgets import Static
from tui_pilot import console, settle
from tui_seed import NOW
from tui_views_seed import add_event, events_scene

from mrt.store.db import open_database
from mrt.store.models import Alert, Outbox
from tui.main import build_parser
from tui.screens.audit import AuditScreen
from tui.screens.events import EventsScreen
from tui.screens.help import HelpScreen
from tui.screens.silences import SilencesScreen

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def shown(screen: EventsScreen) -> list[int]:
    return list(screen.table.ids)


def detail(screen: EventsScreen) -> str:
    return str(screen.query_one("#event-table-detail", Static).render())


async def open_events(pilot: Any) -> EventsScreen:
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, EventsScreen)
    return screen


async def test_every_event_with_why_and_the_filters(db: peewee.Database, db_path: Path) -> None:
    events_scene()
    db.close()
    async with console(db_path, initial_mode="events").run_test(size=(120, 40)) as pilot:
        screen = await open_events(pilot)
        assert shown(screen) == [5, 4, 3, 2, 1]
        assert "processing failed: template error: 'x' is undefined" in detail(screen)
        await pilot.press("down")
        text = detail(screen)
        assert "silenced by silence #1 (mirror re-sync)" in text
        assert "\x1b" not in text and "\u202e" not in text and "Qwen3" in text
        assert "mrt trace 000000000000" in text  # the fingerprint's first 12 characters
        await pilot.press("m")
        await settle(pilot)
        assert shown(screen) == [4, 2]
        await pilot.press("u")
        await settle(pilot)
        assert shown(screen) == [5, 3, 1]
        await pilot.press("slash")
        await pilot.press("ctrl+u", *"source:modelscope:qwen", "enter")
        await settle(pilot)
        assert shown(screen) == [4]
        await pilot.press("slash")
        await pilot.press("ctrl+u", *"colour:red", "enter")
        await settle(pilot)
        assert any("unknown filter word 'colour:red'" in str(n.message)
                   for n in pilot.app._notifications)
        await pilot.press("escape")
        await settle(pilot)
        assert shown(screen) == [5, 4, 3, 2, 1]


async def test_pages_and_live_rows(db: peewee.Database, db_path: Path) -> None:
    for n in range(1, 181):
        add_event(n, "none" if n % 3 else "notify")
    db.close()
    app = console(db_path, page_size=40, poll_seconds=0.2, initial_mode="events")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, EventsScreen)
        assert screen.table.row_count < 180
        for _ in range(20):
            await pilot.press("pagedown")
            await settle(pilot)
        assert shown(screen) == list(range(180, 0, -1))
        reading = screen.table.highlighted_id()
        writer = open_database(db_path)  # another process's connection: the worker's
        with writer.connection_context():
            add_event(181, "notify", title="arrived while reading")
        writer.close()
        await pilot.pause(0.5)
        await settle(pilot)
        assert shown(screen)[0] == 181 and screen.table.highlighted_id() == reading


async def test_keys_help_palette_and_screen_option(db: peewee.Database, db_path: Path) -> None:
    events_scene()
    db.close()
    for mode in ("audit", "silences", "events"):
        assert build_parser().parse_args(["--screen", mode]).screen == mode
    # Started on Audit: the keys are pressed from the new views (the alerts screen's own
    # detail loads would only add noise here).
    async with console(db_path, initial_mode="audit").run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert isinstance(pilot.app.screen, AuditScreen)
        for key, kind in (("8", SilencesScreen), ("9", EventsScreen), ("7", AuditScreen)):
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(pilot.app.screen, kind)
        await pilot.press("question_mark")
        await settle(pilot)
        help_screen = pilot.app.screen
        assert isinstance(help_screen, HelpScreen)
        rows = {(key, what) for key, what, _ in help_screen.rows}
        assert {("7", "Audit"), ("8", "Silences"), ("9", "Events")} <= rows
        await pilot.press("escape")
        await pilot.press("colon")
        await settle(pilot)
        assert isinstance(pilot.app.screen, CommandPalette)
        await pilot.press(*"silences")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(pilot.app.screen, SilencesScreen)


async def test_no_event_yet_says_so(
    db: peewee.Database, db_path: Path
) -> None:
    db.close()
    async with console(db_path, initial_mode="events").run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, EventsScreen) and shown(screen) == []
        assert "No events stored yet" in detail(screen)


async def test_the_detail_follows_the_event_to_its_alerts_and_deliveries_live(
    db: peewee.Database, db_path: Path
) -> None:
    events_scene()  # event 2 was told; event 4 was silenced
    told = Alert.create(event=2, fingerprint=f"{2:064x}", title="DeepSeek-V3 FP8",
                        created_at=NOW)
    dead = Outbox.create(alert=told.id, channel="welink", target="welink://***", status="dead",
                         attempts=3, next_attempt_at=NOW, created_at=NOW, updated_at=NOW)
    Outbox.create(alert=told.id, channel="email", target="mailtos://***", status="sent",
                  attempts=1, next_attempt_at=NOW, created_at=NOW, updated_at=NOW)
    Alert.create(event=3, fingerprint=f"{3:064x}", title="event 3", created_at=NOW)
    db.close()
    app = console(db_path, poll_seconds=0.3, initial_mode="events")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, EventsScreen)
        await pilot.press("down", "down", "down")  # event 2
        await pilot.pause(0.3)
        await settle(pilot)
        assert "→ alert #1 (event, normal): welink dead after 3 tries, email sent" in detail(screen)
        worker = open_database(db_path)  # the worker's sender, another connection
        with worker.connection_context():
            Outbox.update(status="sent").where(Outbox.id == dead.id).execute()
        worker.close()
        await pilot.pause(0.8)
        await settle(pilot)
        assert "welink sent after 3 tries, email sent" in detail(screen)
        await pilot.press("up")  # event 3: an alert that went to no one says why
        await pilot.pause(0.3)
        await settle(pilot)
        assert "→ alert #2 (event, normal): NO DELIVERY: this alert went to no one" in detail(
            screen)

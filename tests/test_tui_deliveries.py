"""The deliveries screen with Pilot: retry/discard one, a marked selection, or everything
matching the filter under the id ceiling frozen at preview; asserted on the database."""

from __future__ import annotations

from pathlib import Path

import peewee
import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static
from tui_pilot import console, settle
from tui_seed import NOW, SOURCES, add_alert, console_scene

from mrt.store.models import AuditLog, Outbox
from tui.screens.confirm import ConfirmScreen
from tui.screens.deliveries import DeliveriesScreen
from tui.widgets.outbox_table import OutboxTable

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def dead_ids() -> list[int]:
    return [r.id for r in Outbox.select().where(Outbox.status == "dead").order_by(Outbox.id.desc())]


def is_due(row: Outbox) -> bool:
    return row.status in ("pending", "retrying") and row.next_attempt_at <= NOW


async def open_deliveries(pilot: Pilot[None]) -> DeliveriesScreen:
    await settle(pilot)  # the database is open before the screen keys work
    await pilot.press("2")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, DeliveriesScreen)
    return screen


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_dead_letters_first_with_plain_words(
    db: peewee.Database, db_path: Path, size: tuple[int, int]
) -> None:
    console_scene()
    app = console(db_path)
    async with app.run_test(size=size) as pilot:
        screen = await open_deliveries(pilot)
        table = screen.query_one(OutboxTable)
        assert table.ids[:3] == dead_ids()
        detail = str(screen.query_one("#outbox-detail", Static).render())
        assert "the target does not exist" in detail and "HTTP 404" in detail
        assert "dead 3" in str(screen.query_one("#outbox-counts", Static).render())


async def test_retry_one_really_makes_the_dead_row_due(db: peewee.Database, db_path: Path) -> None:
    console_scene()
    first = dead_ids()[0]
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_deliveries(pilot)
        await pilot.press("t")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen) and app.screen.risk == "low"
        await pilot.press(*"robot fixed", "enter")
        await settle(pilot)
    assert is_due(Outbox.get_by_id(first))
    assert len(dead_ids()) == 2
    audit = AuditLog.select().where(AuditLog.action == "outbox.retry").get()
    assert audit.actor == "tui" and audit.reason == "robot fixed"
    assert audit.params["ids"] == [first]


async def test_discard_one_really_discards(db: peewee.Database, db_path: Path) -> None:
    console_scene()
    first = dead_ids()[0]
    app = console(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_deliveries(pilot)
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen) and app.screen.risk == "medium"
        await pilot.press("enter")
        await settle(pilot)
    assert Outbox.get_by_id(first).status == "discarded"
    assert AuditLog.select().where(AuditLog.action == "outbox.discard").count() == 1


async def test_marked_selection_is_retried_and_nothing_else(
    db: peewee.Database, db_path: Path
) -> None:
    console_scene()
    dead = dead_ids()
    app = console(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_deliveries(pilot)
        await pilot.press("space", "down", "space", "t")  # rows 0 and 2: dead[0], dead[2]
        await settle(pilot)
        assert "#" in str(app.screen.query_one("#confirm-body", Static).render())
        await pilot.press("enter")
        await settle(pilot)
    assert is_due(Outbox.get_by_id(dead[0])) and is_due(Outbox.get_by_id(dead[2]))
    assert Outbox.get_by_id(dead[1]).status == "dead"


async def test_retry_all_matching_keeps_the_preview_ceiling(
    db: peewee.Database, db_path: Path
) -> None:
    console_scene()
    add_alert("Other source", source_key="rss:blog", deliveries=(("welink", "w://x", "dead", "x"),))
    previewed = [
        r.id
        for r in Outbox.select().where(
            (Outbox.status == "dead")
            & (Outbox.id <= Outbox.select(peewee.fn.MAX(Outbox.id)).scalar())
        )
    ]
    app = console(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_deliveries(pilot)
        await pilot.press("slash", *f"status:dead source:{SOURCES[0]}", "enter")
        await settle(pilot)
        await pilot.press("T")
        await settle(pilot)
        body = str(app.screen.query_one("#confirm-body", Static).render())
        assert f"1 dead rows matching source:{SOURCES[0]}" in body
        # A delivery of the same source dies after the preview: it must not be swept in.
        late = add_alert(
            "Died after the preview",
            source_key=SOURCES[0],
            deliveries=(("welink", "w://y", "dead", "HTTP 404"),),
        )
        await pilot.press("enter")
        await settle(pilot)
    late_row = Outbox.get(Outbox.alert == late)
    assert late_row.status == "dead"
    retried = [r for r in Outbox.select().where(Outbox.id.in_(previewed)) if is_due(r)]
    assert [r.alert.source_key for r in retried] == [SOURCES[0]]
    audit = AuditLog.select().where(AuditLog.action == "outbox.retry").get()
    assert audit.params["filter"] == {"status": "dead", "source_key": SOURCES[0]}
    assert audit.params["max_id"] < late_row.id


async def test_discard_all_matching_asks_for_the_count(db: peewee.Database, db_path: Path) -> None:
    console_scene()
    app = console(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_deliveries(pilot)
        await pilot.press("X")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, ConfirmScreen) and modal.risk == "high" and modal.count == 3
        await pilot.press("2", "enter", "enter")  # the wrong count: refused
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        modal.query_one("#confirm-count", Input).value = "3"
        await pilot.press("enter", *"stale robot", "enter")
        await settle(pilot)
    assert Outbox.select().where(Outbox.status == "discarded").count() == 3
    assert dead_ids() == []


async def test_read_only_dims_retry_and_discard(db: peewee.Database, db_path: Path) -> None:
    console_scene()
    db.close()
    app = console(db_path, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_deliveries(pilot)
        states = {b.binding.action: b.enabled for b in screen.active_bindings.values()}
        assert states["retry"] is False and states["discard_matching"] is False
        assert states["filter"] is True
        await pilot.press("t", "X")
        await settle(pilot)
        assert isinstance(app.screen, DeliveriesScreen)
    assert len(dead_ids()) == 3


async def test_bulk_with_free_text_is_refused_with_the_reason(
    db: peewee.Database, db_path: Path
) -> None:
    console_scene()
    app = console(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_deliveries(pilot)
        await pilot.press("slash", *"404", "enter")
        await settle(pilot)
        assert app.screen.query_one(OutboxTable).row_count == 3  # the text filter lists...
        await pilot.press("T")
        await settle(pilot)
        assert isinstance(app.screen, DeliveriesScreen)  # ...but bulk actions refuse it
        assert any("bulk actions take status:" in str(n.message) for n in app._notifications)
    assert len(dead_ids()) == 3


async def test_retry_of_a_sent_row_says_why_as_the_cli_does(
    db: peewee.Database, db_path: Path
) -> None:
    console_scene()
    sent = Outbox.select().where(Outbox.status == "sent").order_by(Outbox.id).first()
    app = console(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_deliveries(pilot)
        table = screen.query_one(OutboxTable)
        table.move_cursor(row=table.ids.index(sent.id))
        await pilot.press("t")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        said = [str(n.message) for n in app._notifications]
    assert any(
        f"#{sent.id} is sent: only dead or retrying deliveries can be retried" in text
        for text in said
    ), said
    assert Outbox.get_by_id(sent.id).status == "sent"

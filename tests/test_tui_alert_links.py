"""Alerts and deliveries, linked both ways (issue 17): `u` takes an acknowledgement back
(mrt.ops.alerts.unacknowledge, audited), `/ack:no` lists the unacknowledged, Enter on a delivery
shows its alert and Enter on an alert its deliveries, and the deliveries detail lists every
attempt. Asserted on the database."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import peewee
import pytest
from textual.pilot import Pilot
from textual.widgets import Static
from tui_pilot import console, settle
from tui_seed import NOW, add_alert, console_scene

from mrt.ops import alerts as alert_ops
from mrt.store.models import Alert, AuditLog, DeliveryAttempt, Outbox
from tui.screens.alerts import AlertsScreen
from tui.screens.deliveries import DeliveriesScreen
from tui.widgets.alert_table import AlertTable
from tui.widgets.outbox_table import OutboxTable

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def type_filter(pilot: Pilot[None], text: str) -> None:
    await pilot.press("slash")
    await settle(pilot)
    await pilot.press("ctrl+u", *text, "enter")
    await settle(pilot)


async def test_unacknowledge_and_the_ack_filter(db: peewee.Database, db_path: Path) -> None:
    console_scene()
    newest = Alert.select().order_by(Alert.id.desc()).first().id
    second = newest - 1
    alert_ops.acknowledge([newest, second], now=NOW, actor="cli")
    app = console(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(AlertTable)
        assert table.highlighted_id() == newest
        await pilot.press("u")
        await settle(pilot)
        await type_filter(pilot, "ack:yes")
        assert table.ids == [second]
        await type_filter(pilot, "ack:no")
        unacked = [a.id for a in Alert.select().where(Alert.acknowledged_at.is_null())
                   .order_by(Alert.id.desc())]
        assert table.ids == unacked and newest in unacked
        await type_filter(pilot, "ack:maybe")
        assert any("ack:maybe is not ack:yes or ack:no" in str(n.message)
                   for n in app._notifications)
    row = Alert.get_by_id(newest)
    assert row.acknowledged_at is None and row.acknowledged_by is None
    audit = AuditLog.select().order_by(AuditLog.id.desc()).first()
    assert (audit.actor, audit.action, audit.params) == (
        "tui", "alert.unacknowledge", {"alert_ids": [newest]})


async def test_enter_goes_from_a_delivery_to_its_alert_and_back(
    db: peewee.Database, db_path: Path
) -> None:
    console_scene()
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        outbox = app.screen.query_one(OutboxTable)
        await pilot.press("down", "down")  # the third dead letter: an older alert
        await settle(pilot)
        chosen = Outbox.get_by_id(outbox.highlighted_id())
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, AlertsScreen)
        assert app.screen.query_one(AlertTable).highlighted_id() == chosen.alert_id
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DeliveriesScreen)
        listed = screen.query_one(OutboxTable).ids
        expected = {o.id for o in Outbox.select().where(Outbox.alert == chosen.alert_id)}
        assert set(listed) == expected and len(expected) == 2
        counts = str(screen.query_one("#outbox-counts", Static).render())
        assert f"alert:{chosen.alert_id}" in counts
        await pilot.press("escape")  # clears the filter: every delivery again
        await settle(pilot)
        assert len(screen.query_one(OutboxTable).ids) == Outbox.select().count()


async def test_the_detail_lists_every_attempt(db: peewee.Database, db_path: Path) -> None:
    alert_id = add_alert(
        "DeepSeek-V4 released",
        deliveries=(("welink", "welink://***@example.invalid", "dead", "HTTP 500: robot busy"),),
    )
    box = Outbox.get(Outbox.alert == alert_id)
    DeliveryAttempt.delete().execute()
    for n, (outcome, status) in enumerate([("retry", 500), ("retry", 503), ("dead", 500)]):
        DeliveryAttempt.create(
            outbox=box.id, started_at=NOW + timedelta(minutes=n), duration_ms=100 + n,
            outcome=outcome, http_status=status, error_class="HTTPStatusError",
            message=f"attempt {n + 1} refused",
        )
    Outbox.update(attempts=3).where(Outbox.id == box.id).execute()
    app = console(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        detail = str(app.screen.query_one("#outbox-detail", Static).render())
    assert "3 attempt(s)" in detail
    for n, status in enumerate((500, 503, 500)):
        assert f"HTTP {status}" in detail and f"attempt {n + 1} refused" in detail
    assert detail.index("attempt 1 refused") < detail.index("attempt 3 refused")

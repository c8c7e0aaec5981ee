"""The replay screen with Pilot: preview with the current rules, then enqueue, asserted on the
database (the same mrt.replay functions as `mrt replay`)."""

from __future__ import annotations

from pathlib import Path

import peewee
import pytest
from textual.widgets import DataTable, Input, Static
from tui_pilot import console, settle
from tui_seed import NOW, console_scene

from mrt.config import Config
from mrt.delivery.channels import resolve_targets
from mrt.replay import plan_replay
from mrt.store.models import Alert, AuditLog, Outbox
from mrt.timeparse import parse_since
from tui.screens.confirm import ConfirmScreen
from tui.screens.replay import ReplayScreen

pytestmark = pytest.mark.anyio

CONFIG = Config.model_validate(
    {
        "channels": {"hook": {"urls": ["json://127.0.0.1:9/hook"]}},
        "rules": [
            {
                "name": "deepseek",
                "when": {"keywords": ["deepseek"]},
                "notify": {"channels": ["hook"]},
            }
        ],
    }
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def summary(app: object) -> str:
    return str(app.screen.query_one("#replay-summary", Static).render())  # type: ignore[attr-defined]


async def open_replay(pilot: object) -> ReplayScreen:
    await settle(pilot)  # type: ignore[arg-type]
    await pilot.press("5")  # type: ignore[attr-defined]
    await settle(pilot)  # type: ignore[arg-type]
    screen = pilot.app.screen  # type: ignore[attr-defined]
    assert isinstance(screen, ReplayScreen)
    return screen


async def test_preview_then_send_enqueues_what_the_rules_want(
    db: peewee.Database, db_path: Path
) -> None:
    console_scene()
    expected = plan_replay(
        CONFIG, resolve_targets(CONFIG, {}), since=parse_since("30d", now=NOW), now=NOW
    )
    assert expected.items  # the scene has DeepSeek events never told to "hook"
    app = console(db_path, config=CONFIG)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_replay(pilot)
        screen.query_one("#replay-since", Input).value = "30d"
        await pilot.press("enter")
        await settle(pilot)
        assert f"{len(expected.items)} events would be sent" in summary(app)
        assert screen.query_one("#replay-table", DataTable).row_count == len(expected.items)
        assert Alert.select().where(Alert.kind == "replay").count() == 0  # a preview writes nothing
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press(*"rules changed", "enter")
        await settle(pilot)
        assert "Enqueued" in summary(app)
    replayed = Alert.select().where(Alert.kind == "replay")
    assert replayed.count() == len(expected.items)
    assert Outbox.select().where(Outbox.channel == "hook").count() == expected.deliveries
    audit = AuditLog.select().where(AuditLog.actor == "tui").get()
    assert audit.action == "replay" and audit.reason == "rules changed"


async def test_a_second_preview_finds_nothing_left(db: peewee.Database, db_path: Path) -> None:
    console_scene()
    app = console(db_path, config=CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_replay(pilot)
        app.screen.query_one("#replay-since", Input).value = "30d"
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, ConfirmScreen)
        if modal.risk == "high":
            modal.query_one("#confirm-count", Input).value = str(modal.count)
            await pilot.press("enter")
        await pilot.press("enter")
        await settle(pilot)
        app.screen.query_one("#replay-since", Input).value = "30d"
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert "0 events would be sent" in summary(app) and "already delivered" in summary(app)


async def test_bad_input_and_missing_config_are_explained(
    db: peewee.Database, db_path: Path
) -> None:
    console_scene()
    app = console(db_path, config=CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_replay(pilot)
        screen.query_one("#replay-since", Input).value = "last tuesday"
        await pilot.press("enter")
        await settle(pilot)
        assert "last tuesday" in summary(app)
        screen.query_one("#replay-since", Input).value = "7d"
        screen.query_one("#replay-rule", Input).value = "nope"
        await pilot.press("enter")
        await settle(pilot)
        assert "no rule named 'nope'" in summary(app)
    app = console(db_path, config=None, config_error="the config did not load: bad key")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_replay(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert "the config did not load: bad key" in summary(app)


async def test_read_only_dims_send(db: peewee.Database, db_path: Path) -> None:
    console_scene()
    db.close()
    app = console(db_path, config=CONFIG, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_replay(pilot)
        states = {b.binding.action: b.enabled for b in screen.active_bindings.values()}
        assert states["send"] is False and states["preview"] is True
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ReplayScreen)
    assert Alert.select().where(Alert.kind == "replay").count() == 0

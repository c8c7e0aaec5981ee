"""The palette keeps help's promise, "every action by name": every action of every screen, the
current screen's first, none of Textual's generic entries; another screen's action switches
there. A read-only console says why a write key does nothing, instead of silence."""

from __future__ import annotations

from pathlib import Path

import peewee
import pytest
from textual.binding import Binding
from textual.command import CommandList, CommandPalette
from tui_pilot import console, settle
from tui_seed import console_scene

from mrt.store.models import Alert, AuditLog
from tui.app import SCREENS
from tui.palette import screen_classes
from tui.screens.alerts import AlertsScreen

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def listed(app: object) -> list[str]:
    options = app.screen.query_one(CommandList)  # type: ignore[attr-defined]
    return [  # each prompt's first line (the second is its help: the key)
        str(options.get_option_at_index(i).prompt).split("\n")[0]
        for i in range(options.option_count)
    ]


async def test_every_action_of_every_screen_is_listed(db: peewee.Database, db_path: Path) -> None:
    console_scene()
    app = console(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.pause(0.3)  # discovery lists after the providers started
        await settle(pilot)
        shown = listed(app)
    prompts = " | ".join(shown)
    for generic in ("Page down", "Scroll", "theme", "screenshot", "Up"):
        assert generic not in shown and f"{generic} ·" not in prompts, generic
    assert shown[0] in {"Filter", "Mark", "Ack"}  # the screen it was opened on comes first
    labels = {"alerts": "Alerts", "deliveries": "Deliveries", "sources": "Sources",
              "metrics": "Metrics", "replay": "Replay", "rules": "Rules",
              "audit": "Audit", "silences": "Silences", "events": "Events"}
    for mode, screen_class in screen_classes(SCREENS).items():
        for binding in screen_class.BINDINGS:
            if isinstance(binding, Binding) and binding.description:
                name = binding.description
                assert name in shown or f"{name} · {labels[mode]}" in shown, (mode, name)


async def test_retry_from_alerts_switches_to_deliveries(db: peewee.Database, db_path: Path) -> None:
    console_scene()
    app = console(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, AlertsScreen)
        await pilot.press("colon")
        await settle(pilot)
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"retry")
        await pilot.pause(0.3)
        await settle(pilot)
        assert listed(app)[0].startswith("Retry · Deliveries")
        await pilot.press("enter")
        await settle(pilot)
        assert app.current_mode == "deliveries"
        assert any("press t for Retry" in str(n.message) for n in app._notifications)


async def test_read_only_keys_say_why_they_do_nothing(db: peewee.Database, db_path: Path) -> None:
    console_scene()
    db.close()
    app = console(db_path, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        notes = [str(n.message) for n in app._notifications]
        assert any("Ack (a) is disabled: the console is read-only" in n for n in notes), notes
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("T")
        await settle(pilot)
        notes = [str(n.message) for n in app._notifications]
        assert any("Retry all (T) is disabled" in n for n in notes), notes
    assert Alert.select().where(Alert.acknowledged_at.is_null(False)).count() == 0
    assert AuditLog.select().count() == 0

"""The form screens (Replay, Rules) never trap the keyboard: the list has the focus first, so
the screen keys work at once; one tab reaches the form; escape leaves a field for the list."""

from __future__ import annotations

from pathlib import Path

import peewee
import pytest
from textual.widgets import DataTable, Input
from tui_pilot import console, settle
from tui_seed import console_scene

from mrt.config import Config
from mrt.store.models import Alert
from tui.screens.alerts import AlertsScreen
from tui.screens.help import HelpScreen
from tui.screens.replay import ReplayScreen
from tui.screens.rules import RulesScreen

pytestmark = pytest.mark.anyio

CONFIG = Config.model_validate(
    {
        "channels": {"hook": {"urls": ["json://127.0.0.1:9/hook"]}},
        "rules": [{"name": "deepseek", "when": {"keywords": ["deepseek"]}, "notify": ["hook"]}],
    }
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_replay_keys_reach_the_screen_and_escape_leaves_a_field(
    db: peewee.Database, db_path: Path
) -> None:
    console_scene()
    app = console(db_path, config=CONFIG)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ReplayScreen)
        table = screen.query_one("#replay-table", DataTable)
        assert app.focused is table  # focused first: screen keys work at once
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("tab")  # one tab: the focus wraps to the form's first field
        since = screen.query_one("#replay-since", Input)
        assert app.focused is since
        await pilot.press("ctrl+u", *"30d")
        assert since.value == "30d"  # typing goes to the field while it has the focus
        await pilot.press("enter")  # previews from the field
        await settle(pilot)
        assert table.row_count > 0
        await pilot.press("tab", "escape")  # escape leaves any field for the list
        assert app.focused is table
        await pilot.press("1")  # a screen key works again
        await settle(pilot)
        assert isinstance(app.screen, AlertsScreen)
    assert Alert.select().where(Alert.kind == "replay").count() == 0  # a preview sends nothing


async def test_rules_list_has_the_focus_and_escape_returns_to_it(
    db: peewee.Database, db_path: Path
) -> None:
    console_scene()
    app = console(db_path, config=CONFIG, initial_mode="rules")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RulesScreen)
        table = screen.query_one("#rules-table", DataTable)
        assert app.focused is table
        await pilot.press("tab")
        field = screen.query_one("#rules-since", Input)
        assert app.focused is field
        await pilot.press("escape")
        assert app.focused is table
        await pilot.press("q")  # quits: the key was not eaten by the field
        await settle(pilot)
        assert not app.is_running

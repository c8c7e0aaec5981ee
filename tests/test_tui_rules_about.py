"""The console's rules screen shows an `about:` rule's hits with their score and, for the events
no rule matched, their near miss: the same dry run as `mrt rules test` (Pilot)."""

from __future__ import annotations

from pathlib import Path

import peewee
import pytest
from textual.widgets import DataTable, Static
from tui_pilot import console, settle
from tui_seed import console_scene

from mrt.config import Config
from tui.screens.rules import RulesScreen

pytestmark = pytest.mark.anyio

TOPIC = "DeepSeek weights"
CONFIG = Config.model_validate({
    "channels": {"hook": {"urls": ["json://127.0.0.1:9/hook"]}},
    "rules": [{"name": "weights", "when": {"about": {"topic": TOPIC, "threshold": 0.9}},
               "notify": ["hook"]}],
})


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_rules_screen_shows_scores_of_near_misses(db: peewee.Database, db_path: Path) -> None:
    console_scene()
    app = console(db_path, config=CONFIG)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RulesScreen)
        table = screen.query_one("#rules-table", DataTable)
        table.move_cursor(row=1)  # "(no rule)": the events the topic did not reach
        await settle(pilot)
        detail = str(screen.query_one("#rules-detail", Static).render())
    assert detail.startswith("(no rule):")
    assert f"weights: about '{TOPIC}': lexical similarity" in detail and "< 0.90" in detail

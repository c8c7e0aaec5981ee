"""The rules screen with Pilot: hit counts of the current rules over the last N days (a dry
run through mrt.rules.dryrun, the same as `mrt rules test`), writing nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import peewee
import pytest
from textual.widgets import DataTable, Input, Static
from tui_pilot import console, settle
from tui_seed import NOW, console_scene

from mrt.config import Config
from mrt.rules import compile_rules
from mrt.rules.dryrun import run_rules_test, stored_events
from mrt.store.models import Alert, AuditLog
from mrt.store.views.rules import decided_events_since
from tui.screens.rules import RulesScreen

pytestmark = pytest.mark.anyio

CONFIG = Config.model_validate(
    {
        "channels": {"hook": {"urls": ["json://127.0.0.1:9/hook"]}},
        "rules": [
            {"name": "deepseek", "when": {"keywords": ["deepseek"]}, "notify": ["hook"]},
            {"name": "qwen", "when": {"keywords": ["qwen"]}, "notify": ["hook"]},
        ],
    }
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_hit_counts_match_the_dry_run(
    db: peewee.Database, db_path: Path, size: tuple[int, int]
) -> None:
    console_scene()
    since = NOW - timedelta(days=7)
    expected = run_rules_test(
        compile_rules(CONFIG), stored_events(decided_events_since(since)), since=since, now=NOW
    )
    alerts_before = Alert.select().count()
    app = console(db_path, config=CONFIG)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RulesScreen)
        table = screen.query_one("#rules-table", DataTable)
        shown = {
            str(table.get_row(name)[0]): int(str(table.get_row(name)[1])) for name in expected.hits
        }
        assert shown == {name: h.hits for name, h in expected.hits.items()}
        assert expected.hits["deepseek"].hits > 0
        summary = str(screen.query_one("#rules-summary", Static).render())
        assert f"{expected.events} stored events" in summary
        detail = str(screen.query_one("#rules-detail", Static).render())
        assert detail.startswith("deepseek:")
        screen.query_one("#rules-since", Input).value = "1m"  # a minute: nothing stored
        await pilot.press("enter")
        await settle(pilot)
        assert "0 stored events" in str(screen.query_one("#rules-summary", Static).render())
    assert Alert.select().count() == alerts_before and AuditLog.select().count() == 0


async def test_bad_window_is_explained(db: peewee.Database, db_path: Path) -> None:
    console_scene()
    app = console(db_path, config=CONFIG, initial_mode="rules")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.query_one("#rules-since", Input).value = "a while"
        await pilot.press("enter")
        await settle(pilot)
        assert "a while" in str(app.screen.query_one("#rules-summary", Static).render())

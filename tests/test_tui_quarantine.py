"""Quarantined upstream items in the console: the Sources detail and the metrics figures."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import peewee
import pytest
from textual.widgets import Static
from tui_pilot import console, settle
from tui_seed import NOW, SOURCES, console_scene

from mrt.source_kit.items import BadItem, quarantine
from mrt.store import quarantine as quarantine_store
from tui.screens.sources import SourcesScreen

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def keep_two_aside() -> str:
    """Two bad items of the first source; returns the latest one's reason."""
    older = quarantine(SOURCES[0], "issue #?", {"number": "abc"},
                       BadItem("number", "an integer", "abc"), item_key="id:1")
    newer = quarantine(SOURCES[0], "issue #12", {"number": 12, "labels": 5},
                       BadItem("labels", "a list of labels", 5), item_key="#12")
    quarantine_store.record(SOURCES[0], [older], NOW - timedelta(hours=2))
    quarantine_store.record(SOURCES[0], [newer], NOW - timedelta(hours=1))
    return newer.reason


async def test_the_sources_detail_and_the_metrics_show_quarantined_items(
    db: peewee.Database, db_path: Path
) -> None:
    console_scene()
    latest = keep_two_aside()
    app = console(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        assert isinstance(app.screen, SourcesScreen)
        detail = str(app.screen.query_one("#source-detail", Static).render())
        assert f"2 upstream item(s) quarantined; latest: {latest}" in " ".join(detail.split())
        await pilot.press("down")  # a source with nothing kept aside says nothing about it
        await settle(pilot)
        assert "quarantined" not in str(app.screen.query_one("#source-detail", Static).render())
        await pilot.press("4")
        await settle(pilot)
        figures = str(app.screen.query_one("#metrics-day .metrics-figures", Static).render())
        assert "quarantined 2" in figures

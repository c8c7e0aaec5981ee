"""Ages on the header and the banner are taken from the stored timestamps against the clock at
each status read: they go on growing when the worker stops, and the two never disagree."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import peewee
import pytest
from textual.widgets import Static
from tui_pilot import settle
from tui_seed import NOW, beat, console_scene

from tui.app import make_app

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def shown(app: object, widget_id: str) -> str:
    return str(app.screen.query_one(widget_id, Static).render())  # type: ignore[attr-defined]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_ages_move_on_after_the_worker_stops_and_agree(
    db: peewee.Database, db_path: Path, size: tuple[int, int]
) -> None:
    console_scene()
    beat(NOW - timedelta(seconds=4))  # the worker's last heartbeat; then it stops
    clock = [NOW]

    def now() -> datetime:
        return clock[0]

    app = make_app(db_path, clock=now, poll_seconds=3600, status_seconds=3600, slow_seconds=3600)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        assert "worker 4s ago" in shown(app, "#status-bar")
        assert not app.screen.query_one("#banner", Static).display

        clock[0] = NOW + timedelta(minutes=3)  # minutes later, nothing new in the database
        app.load_status()
        await settle(pilot)
        header, banner = shown(app, "#status-bar"), shown(app, "#banner")
        assert "worker 3m ago" in header, header
        assert "Worker down: last heartbeat 3m ago" in banner, banner

        clock[0] = NOW + timedelta(minutes=10)
        app.load_status()
        await settle(pilot)
        header, banner = shown(app, "#status-bar"), shown(app, "#banner")
        assert "worker 10m ago" in header and "last heartbeat 10m ago" in banner

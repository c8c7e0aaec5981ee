"""The heartbeat records how the worker runs (daemon, --once from cron, a systemd service) and
the console says the truth for each: a cron run that ended is "last run 12m ago (--once)", not
"worker down"; a service gets the systemctl hint; a hand-started daemon how to start it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import peewee
import pytest
from textual.widgets import Static
from tui_pilot import console, settle
from tui_seed import NOW

from mrt.store import workers
from mrt.store.models import WorkerHeartbeat
from worker.main import worker_mode

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def shown(app: object, widget_id: str) -> tuple[str, bool]:
    widget = app.screen.query_one(widget_id, Static)  # type: ignore[attr-defined]
    return str(widget.render()), bool(widget.display)


def last_run(mode: str, *, ago: timedelta, stopped: bool) -> None:
    at = NOW - ago
    workers.beat("w1", hostname="h", pid=1, version="1", started_at=at, now=at, mode=mode)
    if stopped:
        workers.mark_stopped("w1", at)


async def header_and_banner(db_path: Path) -> tuple[str, str, bool, str]:
    app = console(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        header, _ = shown(app, "#status-bar")
        banner, banner_shown = shown(app, "#banner")
        hint, _ = shown(app, "#empty-hint")
    return header, banner, banner_shown, hint


async def test_a_cron_once_run_is_not_a_dead_worker(db: peewee.Database, db_path: Path) -> None:
    last_run("once", ago=timedelta(minutes=12), stopped=True)
    assert WorkerHeartbeat.get().mode == "once"
    header, _banner, banner_shown, hint = await header_and_banner(db_path)
    assert "last run 12m ago (--once)" in header, header
    assert not banner_shown  # no "Worker down", no systemctl hint
    assert "--once" in hint and "systemctl" not in hint


async def test_a_stopped_service_gets_the_systemctl_hint(
    db: peewee.Database, db_path: Path
) -> None:
    last_run("service", ago=timedelta(minutes=10), stopped=False)
    header, banner, banner_shown, _ = await header_and_banner(db_path)
    assert "worker 10m ago" in header
    assert banner_shown and "Worker down: last heartbeat 10m ago" in banner
    assert "systemctl --user start mrt-worker" in banner


async def test_a_stopped_daemon_says_how_to_start_it(db: peewee.Database, db_path: Path) -> None:
    last_run("daemon", ago=timedelta(minutes=3), stopped=True)
    _header, banner, banner_shown, _ = await header_and_banner(db_path)
    assert banner_shown and "Worker down: last heartbeat 3m ago" in banner
    assert "start it with mrt-worker" in banner and "systemctl" not in banner


def test_the_mode_comes_from_how_the_worker_was_started() -> None:
    assert worker_mode(once=True, env={"INVOCATION_ID": "abc"}) == "once"  # a timer's --once
    assert worker_mode(once=False, env={"INVOCATION_ID": "abc"}) == "service"
    assert worker_mode(once=False, env={"NOTIFY_SOCKET": "/run/user/1/systemd/notify"}) == "service"
    assert worker_mode(once=False, env={}) == "daemon"

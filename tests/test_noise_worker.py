"""The worker flushes aggregates and digests: `run_once` after its cycle, the daemon every tick.

A real config file, a real SQLite file, loopback GitHub and a loopback webhook; the clock is
a list the test moves.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pytest_httpserver import HTTPServer
from test_noise_support import REPO, first_issue
from test_source_support import T0, FakeClock, FakeGitHub, close, make_pool, recorded_issues, touch

from mrt.store.models import Alert, Outbox
from worker.assembly import Runtime, build_runtime
from worker.runtime import run_daemon, run_once


def write_config(tmp_path: Path, server: HTTPServer) -> Path:
    config = {
        "version": 1,
        "state": {"sqlite_path": str(tmp_path / "mrt.sqlite3")},
        "sources": {
            "github": {"repos": [REPO], "base_url": server.url_for("/"), "issue_edited": True}
        },
        "channels": {"hook": {"urls": [f"json://127.0.0.1:{server.port}/hook"]}},
        "delivery": {"min_interval_seconds": 0},
        "digests": {"daily": {"cron": "0 9 * * *", "timezone": "Asia/Shanghai"}},
        "rules": [
            {"name": "edits", "when": {"event_type": "issue_edited"}, "aggregate": {"window_minutes": 10}},
            {"name": "closed", "when": {"event_type": "issue_closed"}, "digest": "daily"},
        ],
    }
    path = tmp_path / "mrt.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def runtime(path: Path) -> Runtime:
    async def build() -> Runtime:
        return await build_runtime(str(path), env={}, pool=make_pool(FakeClock()))

    return asyncio.run(build())


def once(rt: Runtime, at: datetime) -> Any:
    return asyncio.run(run_once(rt, lambda: at))


def hook_posts(server: HTTPServer) -> list[str]:
    return [json.loads(r.get_data())["message"] for r, _ in server.log if r.path == "/hook"]


def test_run_once_flushes_an_ended_window_and_delivers_it(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    issues = recorded_issues()
    FakeGitHub(httpserver, REPO, issues)
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    rt = runtime(write_config(tmp_path, httpserver))
    try:
        once(rt, T0)
        issue = first_issue(issues)
        for n in range(3):
            touch(issue, T0 + timedelta(minutes=1 + n), title=f"edit {n}")
            once(rt, T0 + timedelta(minutes=1 + n, seconds=10))
        assert Outbox.select().count() == 0 and hook_posts(httpserver) == []
        # the next --once after the window ended (T0+1:10 + 10 min) flushes and delivers
        once(rt, T0 + timedelta(minutes=12))
        alert = Alert.get()
        assert alert.kind == "aggregate" and alert.payload["members"] == 3
        assert Outbox.get().status == "sent"
        posts = hook_posts(httpserver)
        assert len(posts) == 1 and "3 updates" in posts[0]
    finally:
        rt.db.close()


def test_the_daemon_flushes_a_fired_digest_on_its_tick(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    issues = recorded_issues()
    FakeGitHub(httpserver, REPO, issues)
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    rt = runtime(write_config(tmp_path, httpserver))
    try:
        once(rt, T0)
        issue = first_issue(issues)
        close(issue, T0 + timedelta(hours=1))
        once(rt, T0 + timedelta(hours=1, minutes=1))
        assert Alert.select().count() == 0  # queued for 09:00 in Shanghai

        nine_shanghai = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
        stop, reload_requested = asyncio.Event(), asyncio.Event()
        clock = stop_after_one_tick(stop, nine_shanghai)
        asyncio.run(run_daemon(rt, stop, reload_requested, now=clock))
        alert = Alert.get()
        assert alert.kind == "digest" and alert.payload["items"] == 1
        assert Outbox.select().where(Outbox.alert == alert).count() == 1
    finally:
        rt.db.close()


def stop_after_one_tick(stop: asyncio.Event, at: datetime) -> Callable[[], datetime]:
    """A clock for run_daemon: its first reading asks the loop to stop after that tick."""

    def now() -> datetime:
        stop.set()
        return at

    return now

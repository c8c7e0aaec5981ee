"""Issue 19, item 3: the daemon waits out an unavailable database and carries on.

Another process holds SQLite's write lock (`BEGIN IMMEDIATE`) for longer than the busy timeout,
or the disk fills: the worker stays alive, says once what is wrong, tells the operators once,
and when the database is writable again delivers everything exactly once. The real runtime,
a real SQLite file, loopback GitHub and a loopback webhook; a short busy timeout stands in for
the 30 s the issue used.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from db_faults import WriteLock, fill, short_busy_timeout, small_filesystem
from pytest_httpserver import HTTPServer
from test_noise_support import REPO, first_issue
from test_source_support import T0, FakeClock, FakeGitHub, close, make_pool, recorded_issues
from werkzeug import Request, Response

from mrt.events import utcnow
from mrt.ops.sources import poll_now
from mrt.store import workers
from mrt.store.models import Alert, Command, DeliveryAttempt, Outbox
from worker.assembly import Runtime, build_runtime
from worker.dbwatch import DatabaseWatch, ops_notice_writer
from worker.runtime import run_daemon, run_once

KEY = f"github:{REPO}"


def write_config(directory: Path, server: HTTPServer) -> Path:
    config = {
        "version": 1,
        "state": {"sqlite_path": str(directory / "mrt.sqlite3"), "busy_timeout_ms": 200},
        "sources": {"github": {"repos": [REPO], "base_url": server.url_for("/")}},
        "channels": {"hook": {"urls": [f"json://127.0.0.1:{server.port}/hook"]}},
        "delivery": {"min_interval_seconds": 0, "backoff_base_seconds": 0.2,
                     "shutdown_grace_seconds": 3},
        "rules": [{"name": "closed", "when": {"event_type": "issue_closed"}, "notify": {"channels": ["hook"]}}],
    }
    path = directory / "mrt.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def baselined_runtime(config: Path) -> Runtime:
    async def build() -> Runtime:
        rt = await build_runtime(str(config), env={}, pool=make_pool(FakeClock()))
        await run_once(rt, lambda: T0)  # the baseline; the source is due again right away
        return rt

    rt = asyncio.run(build())
    rt.watch = DatabaseWatch(
        rt.database, ops_notice_writer(rt.db, lambda: rt.config, lambda: rt.engine.targets),
        backoff_max=0.4, settle_seconds=2.0,
    )
    return rt


def posts(server: HTTPServer) -> list[str]:
    return [json.loads(r.get_data())["message"] for r, _ in server.log if r.path == "/hook"]


async def wait_until(condition: Callable[[], bool], task: asyncio.Task[None],
                     seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert not task.done(), f"the daemon stopped: {task.exception()!r}"
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def run_daemon_while(rt: Runtime, scenario: Callable[[asyncio.Task[None]], Any]) -> None:
    async def main() -> None:
        stop, reload_requested = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(run_daemon(rt, stop, reload_requested))
        try:
            await scenario(task)
            assert not task.done(), f"the daemon stopped: {task.exception()!r}"
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=20)

    asyncio.run(main())


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def closed_sent() -> list[Outbox]:
    return list(Outbox.select().join(Alert).where(Alert.kind == "event"))


def test_a_write_lock_longer_than_the_busy_timeout_is_waited_out(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    short_busy_timeout(monkeypatch)
    issues = recorded_issues()
    FakeGitHub(httpserver, REPO, issues)
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    rt = baselined_runtime(write_config(tmp_path, httpserver))
    close(first_issue(issues), utcnow())
    poll_now(KEY, now=utcnow(), actor="cli")  # the flag the scheduler reads, as `mrt sources poll`
    command = workers.submit_command("wake_senders", {}, utcnow())
    caplog.set_level(logging.INFO)

    async def scenario(task: asyncio.Task[None]) -> None:
        with WriteLock(tmp_path / "mrt.sqlite3") as other:
            other.lock()
            assert rt.watch is not None
            # the heartbeat, the command queue and the cycle's commit all meet the lock
            await wait_until(lambda: rt.watch is not None and rt.watch.episode is not None
                             and rt.watch.episode.failures >= 4, task)
            await asyncio.sleep(1.5)  # well past the busy timeout, several backoffs
            assert posts(httpserver) == [] and Alert.select().count() == 0
            other.unlock()
        await wait_until(lambda: any(r.status == "sent" for r in closed_sent())
                         and len(posts(httpserver)) >= 2 and rt.watch is not None
                         and rt.watch.episode is None, task)

    try:
        run_daemon_while(rt, scenario)
        assert [r.status for r in closed_sent()] == ["sent"]
        texts = posts(httpserver)
        assert sum("closed" in t.lower() for t in texts) == 1, texts  # once, not repeated
        notices = list(Alert.select().where(Alert.kind == "worker_health"))
        assert len(notices) == 1 and "is locked by another process" in notices[0].title
        assert sum("is locked by another process" in t for t in texts) == 1
        said = [m for m in errors(caplog) if "is locked by another process" in m]
        assert len(said) == 1, errors(caplog)  # once per episode
        assert "mrt.sqlite3" in said[0] and "waits and retries" in said[0]
        assert not any("cannot rollback" in m or "crashed" in m for m in errors(caplog))
        assert Command.get_by_id(command).done_at is not None
        assert rt.watch is not None and rt.watch.episodes == 1
        assert any("accepts writes again" in r.getMessage() for r in caplog.records)
    finally:
        rt.db.close()


def test_a_send_whose_result_meets_the_lock_is_recorded_once_not_repeated(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    short_busy_timeout(monkeypatch)
    issues = recorded_issues()
    FakeGitHub(httpserver, REPO, issues)
    other = WriteLock(tmp_path / "mrt.sqlite3")

    def hook(request: Request) -> Response:
        if not any(r.path == "/hook" for r, _ in httpserver.log):
            other.lock()  # the send lands; recording it meets another writer's lock
        return Response("ok")

    httpserver.expect_request("/hook", method="POST").respond_with_handler(hook)
    rt = baselined_runtime(write_config(tmp_path, httpserver))
    close(first_issue(issues), utcnow())

    async def scenario(task: asyncio.Task[None]) -> None:
        await wait_until(lambda: rt.watch is not None and rt.watch.episode is not None
                         and "the sender" in rt.watch.episode.places
                         and rt.watch.episode.failures >= 3, task)
        await asyncio.sleep(1.0)  # several more retries of the mark, all refused
        other.unlock()
        await wait_until(lambda: [r.status for r in closed_sent()] == ["sent"], task)
        await asyncio.sleep(1.5)  # a repeat, if there were one, would happen now

    try:
        run_daemon_while(rt, scenario)
        row = closed_sent()[0]
        assert row.status == "sent" and row.attempts == 1
        assert DeliveryAttempt.select().where(DeliveryAttempt.outbox == row).count() == 1
        closed_posts = [t for t in posts(httpserver) if "closed" in t.lower()]
        assert len(closed_posts) == 1
    finally:
        other.close()
        rt.db.close()


def test_a_full_disk_is_waited_out_and_nothing_is_lost(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture,
) -> None:
    issues = recorded_issues()
    FakeGitHub(httpserver, REPO, issues)
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    with small_filesystem("2m") as disk:
        rt = baselined_runtime(write_config(disk, httpserver))
        expected = sum(1 for issue in issues[:10] if "pull_request" not in issue)
        for n, issue in enumerate(issues[:10]):  # a cycle with real weight to write
            close(issue, utcnow())
            issue["body"] = f"{n} " + "x" * 20_000
        filler = fill(disk, leave_bytes=96 * 1024)  # a heartbeat fits, a cycle does not
        caplog.set_level(logging.INFO)

        async def scenario(task: asyncio.Task[None]) -> None:
            await wait_until(lambda: rt.watch is not None and rt.watch.episode is not None
                             and rt.watch.episode.kind == "full"
                             and f"the cycle of {KEY}" in rt.watch.episode.places
                             and rt.watch.episode.failures >= 3, task)
            assert Alert.select().where(Alert.kind == "event").count() == 0
            filler.unlink()  # the operator frees space
            await wait_until(lambda: len([r for r in closed_sent() if r.status == "sent"]) == expected
                             and rt.watch is not None and rt.watch.episode is None, task)

        try:
            run_daemon_while(rt, scenario)
            assert expected >= 3
            assert sorted(r.status for r in closed_sent()) == ["sent"] * expected
            closed_posts = [t for t in posts(httpserver) if "closed" in t.lower()]
            assert len(closed_posts) == expected, closed_posts  # each once
            said = [m for m in errors(caplog) if "the disk is full" in m]
            assert len(said) == 1, errors(caplog)
            assert "database or disk is full" in said[0] and "free space" in said[0]
            assert not any("cannot rollback" in m or "crashed" in m for m in errors(caplog))
            assert Alert.select().where(Alert.kind == "worker_health").count() == 1
        finally:
            rt.db.close()


def test_a_transaction_sqlite_rolled_back_itself_reports_the_cause_not_the_rollback(
    tmp_path: Path,
) -> None:
    """SQLITE_FULL (injected with max_page_count, a real SQLite error) inside a cycle-like
    nested transaction: the caller sees "database or disk is full", not "cannot rollback"."""
    from datetime import UTC, datetime

    import peewee

    from mrt.store.db import execute, fetch_all, open_store, write_transaction
    from mrt.store.db_errors import explain

    db = open_store(tmp_path / "mrt.sqlite3")
    try:
        pages = fetch_all(db, "PRAGMA page_count")[0][0]
        execute(db, f"PRAGMA max_page_count={pages}")
        at = datetime(2026, 12, 1, tzinfo=UTC)
        with (pytest.raises(peewee.OperationalError) as caught, write_transaction(db),
              write_transaction(db)):
            for n in range(200):
                workers.beat(f"w{n}" + "x" * 500, hostname="h" * 1000, pid=n, version="1",
                             started_at=at, now=at)
        assert str(caught.value) == "database or disk is full"
        text = explain(caught.value, tmp_path / "mrt.sqlite3")
        assert "mrt.sqlite3 cannot grow: the disk is full" in text and "free space" in text
    finally:
        db.close()


def test_an_episode_is_said_once_backs_off_per_retry_and_ends_after_settling(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The watch on its own, driven by `now`: concurrent failures do not escalate the backoff,
    a small write passing on a full disk does not end the episode, the notice is written once
    the database takes it, and the end is said once."""
    import sqlite3
    from datetime import timedelta

    import peewee

    notices: list[str] = []
    refuse = [True]

    def notify(text: str, now: Any) -> None:
        if refuse[0]:
            raise peewee.OperationalError("database or disk is full")
        notices.append(text)

    full = peewee.OperationalError(sqlite3.OperationalError("database or disk is full"))
    watch = DatabaseWatch("/srv/mrt.sqlite3", notify, backoff_max=8, settle_seconds=30)
    caplog.set_level(logging.DEBUG, logger="mrt.worker")
    t = T0
    assert watch.failed("the heartbeat", full, t)
    assert watch.failed("the sender", full, t)  # the same wait: no second step
    assert watch.wait_seconds(t) == 1.0 and watch.waiting(t + timedelta(seconds=0.5))
    watch.settle(t)  # still waiting: nothing tried
    t += timedelta(seconds=1)
    watch.settle(t)  # the notice is refused too: one more step of backoff
    assert notices == [] and watch.wait_seconds(t) == 2.0
    t += timedelta(seconds=2)
    watch.succeeded(t)  # a heartbeat passes ...
    assert watch.failed("the cycle of github:a/b", full, t)  # ... a cycle does not
    assert watch.wait_seconds(t) == 4.0
    refuse[0] = False
    t += timedelta(seconds=4)
    watch.succeeded(t)
    watch.settle(t)
    assert len(notices) == 1 and "/srv/mrt.sqlite3 cannot grow: the disk is full" in notices[0]
    watch.settle(t + timedelta(seconds=29))
    assert watch.episode is not None
    watch.settle(t + timedelta(seconds=30))
    assert watch.episode is None and watch.episodes == 1 and len(notices) == 1
    assert not watch.failed("the heartbeat", peewee.IntegrityError("UNIQUE"), t)  # a bug
    said = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.levelname for r in said] == ["ERROR", "WARNING"], [r.getMessage() for r in said]
    assert "accepts writes again" in said[1].getMessage()


def test_a_cycle_that_reports_a_database_failure_instead_of_raising_it_reaches_the_watch(
    tmp_path: Path, httpserver: HTTPServer,
) -> None:
    """A pipeline may record a failed commit as the cycle's outcome rather than raise it; the
    scheduler still hands "database is locked" in that report to the daemon's watch (so it
    backs off instead of re-polling the source every second), and nothing else."""
    from mrt.pipeline import CycleReport
    from mrt.store.db_errors import unavailable_kind

    FakeGitHub(httpserver, REPO, recorded_issues())
    rt = baselined_runtime(write_config(tmp_path, httpserver))
    seen: list[tuple[str, str | None]] = []
    rt.scheduler.on_database_error = lambda where, exc: bool(
        seen.append((where, unavailable_kind(exc))) or True)

    async def finish(report: CycleReport) -> None:
        task = asyncio.ensure_future(asyncio.sleep(0, result=report))
        await task
        rt.scheduler._finished(KEY, task)

    locked = "commit failed: OperationalError: database is locked (not recorded: ...)"
    try:
        asyncio.run(finish(CycleReport(KEY, "failed", error=locked)))
        asyncio.run(finish(CycleReport(KEY, "failed", error="HTTP 502 from upstream")))
        asyncio.run(finish(CycleReport(KEY, "ok")))
        assert seen == [(f"the cycle of {KEY}", "locked")]
    finally:
        rt.db.close()

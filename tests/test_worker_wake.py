"""The daemon's idle sender is woken when news is stored, not at its next tick (issue 13/15).

The real daemon (`run_daemon`, built from a config file by `build_runtime` as `mrt-worker`
builds it) runs in-process against the loopback GitHub and a loopback JSON webhook. The sender's
idle wait is given an hour instead of IDLE_SECONDS: once it is idle, only a wake can make it
send, so news reaching the chat proves the store woke it (and the wait says it was woken).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer
from test_delivery_email import free_port
from test_fleet_webhooks import ENV, REPO, Hook, Upstream, envelope, new_issue, write_config
from test_replay_support import Sink
from test_source_support import FakeClock, make_pool

from mrt.events import utcnow
from mrt.store import sources
from worker import runtime, wake
from worker.assembly import Runtime, build_runtime
from worker.runtime import run_daemon, run_once

HOUR = 3600.0
IDLE = 5.0  # the sender's idle wait in the budget test
BOUND = 30.0  # seconds the test waits at most; without a wake the sender would wait an hour


class Waits:
    """The sender's idle waits: each one's outcome (True: woken by news, False: stop/timeout)."""

    def __init__(self) -> None:
        self.idle = asyncio.Event()
        self.outcomes: list[bool] = []


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> Waits:
    seen = Waits()
    real = wake.wait_for_news

    async def an_hour(stop: asyncio.Event, news: asyncio.Event, seconds: float) -> bool:
        seen.idle.set()
        woken = await real(stop, news, HOUR)
        seen.outcomes.append(woken)
        return woken

    monkeypatch.setattr(wake, "wait_for_news", an_hour)
    return seen


def with_daemon(tmp_path: Path, server: HTTPServer, waits: Waits,
                news: Callable[[Runtime, Hook], Awaitable[None]], told: Callable[[], bool]) -> None:
    port = free_port()
    config = write_config(tmp_path, server, port)

    async def run() -> None:
        rt = await build_runtime(str(config), env=ENV, pool=make_pool(FakeClock()))
        await run_once(rt)  # the baseline: every source polled, nothing to tell, 300 s to go
        stop = asyncio.Event()
        daemon = asyncio.create_task(run_daemon(rt, stop, asyncio.Event()))
        try:
            await asyncio.wait_for(waits.idle.wait(), BOUND)  # the sender found nothing: idle
            async with httpx.AsyncClient(timeout=10) as client:
                await news(rt, Hook(client, port))
            async with asyncio.timeout(BOUND):
                while not told():
                    await asyncio.sleep(0.02)
        finally:
            stop.set()
            await daemon
            rt.db.close()

    asyncio.run(run())


def test_a_webhook_delivery_wakes_the_idle_sender(
    tmp_path: Path, httpserver: HTTPServer, waits: Waits
) -> None:
    up = Upstream(httpserver)
    sink = Sink(httpserver)

    async def deliver(rt: Runtime, hook: Hook) -> None:
        issue = new_issue(up, 90011, "DeepSeek-V9 told by a webhook")
        answer = await hook.send("issues", envelope("issues-opened", issue=issue))
        assert (answer.status_code, answer.text) == (200, "1 new events, 1 alerts")

    with_daemon(tmp_path, httpserver, waits, deliver,
                lambda: any("told by a webhook" in str(b) for b in sink.received))
    assert waits.outcomes[0] is True  # the first idle wait ended by the wake, not the hour
    assert len(sink.received) == 1


def test_a_cycle_committing_deliveries_wakes_the_idle_sender(
    tmp_path: Path, httpserver: HTTPServer, waits: Waits
) -> None:
    up = Upstream(httpserver)
    sink = Sink(httpserver)

    async def poll(rt: Runtime, hook: Hook) -> None:
        new_issue(up, 90012, "DeepSeek-V9 told by a poll")
        sources.request_poll(f"github:{REPO}", utcnow())  # the daemon's next turn polls it

    with_daemon(tmp_path, httpserver, waits, poll,
                lambda: any("told by a poll" in str(b) for b in sink.received))
    assert waits.outcomes[0] is True
    assert len(sink.received) == 1


def test_a_row_its_budget_refuses_waits_for_the_token_without_spinning(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A budget of one send, refilled every 2 s, and an idle wait of 5 s: the second delivery's
    wake finds the bucket empty; the sender then waits for the token (at most 2 s, less than its
    idle wait), not in a loop of empty rounds, and sends it."""
    up = Upstream(httpserver)
    sink = Sink(httpserver)
    asked: list[float] = []
    real = wake.wait_for_news

    async def recorded(stop: asyncio.Event, news: asyncio.Event, seconds: float) -> bool:
        asked.append(seconds)
        return await real(stop, news, seconds)

    monkeypatch.setattr(wake, "wait_for_news", recorded)
    monkeypatch.setattr(runtime, "IDLE_SECONDS", IDLE)
    port = free_port()
    config = write_config(tmp_path, httpserver, port)
    data = json.loads(config.read_text())
    del data["delivery"]  # no fixed spacing: each target has a rate budget
    data["channels"]["hook"]["rate"] = {"burst": 1, "per_minute": 30}
    config.write_text(json.dumps(data))

    async def run() -> None:
        rt = await build_runtime(str(config), env=ENV, pool=make_pool(FakeClock()))
        await run_once(rt)
        stop = asyncio.Event()
        daemon = asyncio.create_task(run_daemon(rt, stop, asyncio.Event()))
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                hook = Hook(client, port)
                async with asyncio.timeout(BOUND):
                    while not asked:  # the listener is up once the sender has run
                        await asyncio.sleep(0.02)
                for number in (90021, 90022):
                    issue = new_issue(up, number, f"DeepSeek-V9 budget {number}")
                    answer = await hook.send("issues", envelope("issues-opened", issue=issue))
                    assert answer.status_code == 200, answer.text
            async with asyncio.timeout(BOUND):
                while len(sink.received) < 2:
                    await asyncio.sleep(0.02)
        finally:
            stop.set()
            await daemon
            rt.db.close()

    asyncio.run(run())
    assert len(sink.received) == 2
    token_waits = [s for s in asked if wake.MIN_WAIT_SECONDS <= s < IDLE]
    assert token_waits and max(token_waits) <= 2.05  # the budget's next token, not the idle 5 s
    assert len(asked) < 20, asked  # a handful of rounds, not a spinning loop

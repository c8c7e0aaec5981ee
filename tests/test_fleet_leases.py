"""Source leases across workers (mrt/store/leases.py, worker/scheduler.py), on SQLite and
PostgreSQL: one poller per source at a time, taken over when a worker dies, renewed during a long
poll, and fenced, so that a late worker whose lease was taken can neither move the cursor back
nor commit its events.

Two workers are two Schedulers with their own engines on one database, against a loopback
GitHub; time is driven through `now`.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import peewee
import pytest
from pytest_httpserver import HTTPServer
from test_fleet_support import race
from test_pipeline_cycle import REPO, make_engine
from test_source_support import T0, FakeClock, FakeGitHub, close, recorded_issues

from mrt.pipeline import Engine, build_specs
from mrt.source_kit.contract import PollResult
from mrt.sources import github
from mrt.store import leases
from mrt.store.models import Alert, CycleMetric, Event, SourceState
from worker.scheduler import Scheduler

KEY = f"github:{REPO}"
LEASE = 60  # state.source_lease_seconds (the default)


def worker(db: peewee.Database, server: HTTPServer, name: str) -> Scheduler:
    engine = make_engine(db, server, FakeClock())
    return Scheduler(engine, build_specs(engine.config, engine.plugins), T0, owner=name)


def state() -> SourceState:
    return SourceState.get_by_id(KEY)


class Gate:
    """A poll that reads upstream, then stalls until released (a worker frozen mid-cycle)."""

    def __init__(self) -> None:
        self.polled = asyncio.Event()
        self.release = asyncio.Event()

    def install(self, engine: Engine) -> None:
        async def poll(spec: Any, ctx: Any) -> PollResult:
            result = await github.poll(spec, ctx)
            self.polled.set()
            await self.release.wait()
            return result

        engine.plugins = {"github": _Plugin(poll)}  # type: ignore[dict-item]


class _Plugin:
    def __init__(self, poll: Any) -> None:
        self.poll, self.instances = poll, github.instances


def test_one_worker_polls_a_source_the_other_waits(
    store_db: peewee.Database, httpserver: HTTPServer
) -> None:
    fake = FakeGitHub(httpserver, REPO, recorded_issues())
    a, b = worker(store_db, httpserver, "a"), worker(store_db, httpserver, "b")

    async def scenario() -> tuple[list[Any], list[Any]]:
        started = a.start_due(T0)
        both = await b.tick(T0)  # the same instant: the source is a's
        return [await t for t in started], both

    mine, theirs = asyncio.run(scenario())
    assert [r.outcome for r in mine] == ["ok"] and theirs == []
    assert len(fake.requests) == 1
    assert state().lease_owner is None  # the commit gave the lease back
    assert asyncio.run(b.tick(T0 + timedelta(seconds=1))) == []  # and it is not due again


def test_a_dead_workers_lease_is_taken_over_after_it_expires(
    store_db: peewee.Database, httpserver: HTTPServer
) -> None:
    FakeGitHub(httpserver, REPO, recorded_issues())
    b = worker(store_db, httpserver, "b")  # creates the state row
    dead = leases.take(KEY, "a/crashed", T0, LEASE)  # a took it, then was killed -9
    assert dead is not None
    assert asyncio.run(b.tick(T0 + timedelta(seconds=LEASE - 1))) == []
    [report] = asyncio.run(b.tick(T0 + timedelta(seconds=LEASE)))
    assert report.outcome == "ok" and state().cursor is not None
    assert state().lease_epoch == dead.epoch + 1


def test_a_long_poll_renews_its_lease(
    store_db: peewee.Database, httpserver: HTTPServer
) -> None:
    FakeGitHub(httpserver, REPO, recorded_issues())
    a, b = worker(store_db, httpserver, "a"), worker(store_db, httpserver, "b")
    gate = Gate()
    gate.install(a.engine)

    async def scenario() -> list[Any]:
        [task] = a.start_due(T0)
        await gate.polled.wait()
        a.start_due(T0 + timedelta(seconds=45))  # a's next turn, mid-poll: renews
        stolen = await b.tick(T0 + timedelta(seconds=LEASE + 1))
        gate.release.set()
        return [stolen, await task]

    stolen, report = asyncio.run(scenario())
    assert stolen == [] and report.outcome == "ok"


def test_a_late_worker_cannot_move_the_cursor_back_nor_commit(
    store_db: peewee.Database, httpserver: HTTPServer
) -> None:
    fake = FakeGitHub(httpserver, REPO, recorded_issues())
    a, b = worker(store_db, httpserver, "a"), worker(store_db, httpserver, "b")
    asyncio.run(a.tick(T0))  # the baseline
    gate = Gate()
    gate.install(a.engine)
    first, second = [i for i in fake.issues if i["state"] == "open"][:2]
    first["title"], second["title"] = "Support DeepSeek-V4", "DeepSeek-V4 tokenizer"
    due = state().next_poll_at + timedelta(seconds=1)

    async def scenario() -> tuple[list[Any], Any]:
        close(first, due)
        [task] = a.start_due(due)
        await gate.polled.wait()  # a read the first change, then froze past its lease
        close(second, due + timedelta(seconds=30))
        reports = await b.tick(due + timedelta(seconds=LEASE))
        gate.release.set()
        return reports, await task

    theirs, late = asyncio.run(scenario())
    assert [(r.outcome, r.new_events) for r in theirs] == [("ok", 2)]
    cursor_after_b = state().cursor
    assert late.outcome == "lease_lost" and "lease" in (late.error or "")
    assert state().cursor == cursor_after_b  # not moved back to what a had read
    assert Alert.select().count() == 2 and Event.select().count() == 2
    assert CycleMetric.select().where(CycleMetric.started_at == due).count() == 0


def test_two_connections_take_one_lease(store_db: peewee.Database) -> None:
    from mrt.store import sources

    sources.ensure_states([(KEY, "github")], T0)
    first, second = race(
        store_db,
        lambda: leases.take(KEY, "a", T0, LEASE),
        lambda: leases.take(KEY, "b", T0, LEASE),
    )
    assert first is not None and first.owner == "a" and second is None
    assert leases.holders(T0) == {KEY: "a"}


@pytest.mark.parametrize("late", [True, False])
def test_the_fence_checks_the_epoch(store_db: peewee.Database, late: bool) -> None:
    from mrt.errors import LeaseLost
    from mrt.store import sources
    from mrt.store.db import write_transaction

    sources.ensure_states([(KEY, "github")], T0)
    mine = leases.take(KEY, "a", T0, LEASE)
    assert mine is not None
    if late:
        leases.take(KEY, "b", T0 + timedelta(seconds=LEASE), LEASE)
        with pytest.raises(LeaseLost, match="taken over by b"), write_transaction(store_db):
            leases.fence(mine)
    else:
        with write_transaction(store_db):
            leases.fence(mine)
        assert state().lease_owner is None


def test_a_stopping_worker_gives_back_the_lease_of_a_cycle_that_did_not_finish(
    store_db: peewee.Database, httpserver: HTTPServer
) -> None:
    FakeGitHub(httpserver, REPO, recorded_issues())
    a, b = worker(store_db, httpserver, "a"), worker(store_db, httpserver, "b")
    gate = Gate()
    gate.install(a.engine)

    async def scenario() -> tuple[int, list[Any], Any]:
        [task] = a.start_due(T0)
        await gate.polled.wait()
        await a.drain(0.01)  # the shutdown grace ran out with the poll still going
        released = a.release_all()
        theirs = await b.tick(T0 + timedelta(seconds=1))  # not a lease's length later
        gate.release.set()
        return released, theirs, await task

    released, theirs, late = asyncio.run(scenario())
    assert released == 1 and [r.outcome for r in theirs] == ["ok"]
    assert late.outcome == "lease_lost"


def test_a_late_worker_whose_poll_fails_records_no_failure(
    store_db: peewee.Database, httpserver: HTTPServer
) -> None:
    from mrt.errors import SourceError

    FakeGitHub(httpserver, REPO, recorded_issues())
    a, b = worker(store_db, httpserver, "a"), worker(store_db, httpserver, "b")
    asyncio.run(a.tick(T0))  # the baseline
    release = asyncio.Event()

    async def failing(spec: Any, ctx: Any) -> PollResult:
        await release.wait()
        raise SourceError("GitHub answered 502")

    a.engine.plugins = {"github": _Plugin(failing)}  # type: ignore[dict-item]
    due = state().next_poll_at + timedelta(seconds=1)

    async def scenario() -> tuple[list[Any], Any]:
        [task] = a.start_due(due)
        theirs = await b.tick(due + timedelta(seconds=LEASE))
        release.set()
        return theirs, await task

    theirs, late = asyncio.run(scenario())
    assert [r.outcome for r in theirs] == ["ok"] and late.outcome == "lease_lost"
    assert state().consecutive_failures == 0 and state().health == "ok"

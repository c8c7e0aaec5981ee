"""Retention in the worker: `observability.retention_*` through the real loader, a real SQLite
file, the clock passed as `now`. Old rows go; current rows and the rows an operator still
needs stay (queued deliveries, dead letters until discarded, their alerts, events and
attempts, unsent digest items, open aggregation windows). Pruning runs in small batches that
let another writer in between, on a schedule, and from the daemon's own loop."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import peewee
import pytest
from test_noise_worker import stop_after_one_tick
from test_source_support import FakeClock, make_pool

from mrt.config import Config, load_config
from mrt.store.db import open_store
from mrt.store.maintenance import prune
from mrt.store.models import (
    AggregateBucket,
    AggregateMember,
    Alert,
    CycleMetric,
    DeliveryAttempt,
    DigestItem,
    Event,
    Outbox,
)
from worker.assembly import build_runtime
from worker.retention import Retention
from worker.runtime import run_daemon

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def write_config(tmp_path: Path, **observability: int) -> Path:
    settings = {"retention_days_events": 30, "retention_days_alerts": 90} | observability
    lines = "\n".join(f"{k} = {v}" for k, v in settings.items())
    path = tmp_path / "mrt.toml"
    path.write_text(
        f'version = 1\n[state]\nsqlite_path = "{tmp_path / "mrt.sqlite3"}"\n'
        f"[observability]\n{lines}\n", encoding="utf-8")
    return path


@pytest.fixture
def db(tmp_path: Path) -> Iterator[peewee.Database]:
    database = open_store(tmp_path / "mrt.sqlite3", now=NOW)
    yield database
    database.close()


def event(name: str, age: timedelta) -> Event:
    return Event.create(
        fingerprint=name, source="github", source_key="github:a/b", resource_type="issue",
        resource_id=name, event_type="issue_opened", event_id=name, title=name,
        observed_at=NOW - age)


def alert_with(name: str, age: timedelta, status: str) -> Alert:
    """An alert on its own event, one outbox row in `status`, one attempt: all `age` old."""
    at = NOW - age
    alert = Alert.create(event=event(name, age), title=name, created_at=at)
    row = Outbox.create(alert=alert, channel="team", target="json://h/x?token=***", status=status,
                        next_attempt_at=at, created_at=at, updated_at=at)
    DeliveryAttempt.create(outbox=row, started_at=at, outcome="retry")
    return alert


def seed() -> dict[str, int]:
    """Every kind of row, old and new; returns the ids the test follows."""
    ids = {
        "old_event": event("old", 40 * DAY).id,
        "fresh_event": event("fresh", DAY).id,
        "in_digest": event("digest", 40 * DAY).id,
        "in_open_window": event("window-open", 40 * DAY).id,
        "in_flushed_window": event("window-flushed", 40 * DAY).id,
    }
    DigestItem.create(digest="daily", event=ids["in_digest"], created_at=NOW - 40 * DAY)
    open_bucket = AggregateBucket.create(group_key="g1", window_end=NOW + DAY,
                                         created_at=NOW - 40 * DAY)
    flushed = AggregateBucket.create(group_key="g2", window_end=NOW - 39 * DAY,
                                     created_at=NOW - 40 * DAY, flushed_at=NOW - 39 * DAY)
    AggregateMember.create(bucket=open_bucket, event=ids["in_open_window"])
    AggregateMember.create(bucket=flushed, event=ids["in_flushed_window"])
    for status in ("sent", "discarded", "dead", "pending", "retrying", "sending"):
        ids[f"old_{status}"] = alert_with(f"old-{status}", 100 * DAY, status).id
    ids["recent_sent"] = alert_with("recent-sent", 50 * DAY, "sent").id
    CycleMetric.create(source_key="github:a/b", started_at=NOW - 40 * DAY)
    CycleMetric.create(source_key="github:a/b", started_at=NOW - DAY)
    return ids


def event_titles() -> set[str]:
    return {e.title for e in Event.select()}


def alert_titles() -> set[str]:
    return {a.title for a in Alert.select()}


def test_the_worker_prunes_old_rows_and_keeps_what_operators_need(
    tmp_path: Path, db: peewee.Database
) -> None:
    config = load_config(str(write_config(tmp_path)))
    seed()

    counts = Retention().run_due(db, config, NOW)

    assert counts is not None
    assert counts.as_dict() == {
        "alerts": 2, "events": 4, "delivery_attempts": 1, "cycle_metrics": 1
    }
    # sent and discarded, 100 days old: gone with their rows; every needed one stays
    assert alert_titles() == {
        "old-dead", "old-pending", "old-retrying", "old-sending", "recent-sent"}
    assert event_titles() == {
        "fresh", "digest", "window-open",  # current, an unsent digest, an open window
        "old-dead", "old-pending", "old-retrying", "old-sending",  # their alerts need them
        "recent-sent",  # its alert is within the 90 days
    }
    assert {o.status for o in Outbox.select()} == {"dead", "pending", "retrying", "sending", "sent"}
    # attempts past 30 days go only for rows that are done: the dead letter keeps its history
    kept = {a.outbox.alert.title for a in DeliveryAttempt.select()}
    assert kept == {"old-dead", "old-pending", "old-retrying", "old-sending"}
    assert CycleMetric.select().count() == 1
    assert Alert.get(Alert.title == "old-dead").event.title == "old-dead"


def test_a_discarded_dead_letter_goes_at_the_next_run(tmp_path: Path, db: peewee.Database) -> None:
    config = load_config(str(write_config(tmp_path, retention_every_minutes=60)))
    ids = seed()
    retention = Retention()
    assert retention.run_due(db, config, NOW) is not None

    Outbox.update(status="discarded").where(Outbox.alert == ids["old_dead"]).execute()
    assert retention.run_due(db, config, NOW + timedelta(minutes=59)) is None  # not due yet
    assert "old-dead" in alert_titles()

    counts = retention.run_due(db, config, NOW + timedelta(minutes=60))
    assert counts is not None and counts.alerts == 1 and counts.events == 1
    assert "old-dead" not in alert_titles() and "old-dead" not in event_titles()


def test_retention_every_minutes_zero_leaves_pruning_to_the_operator(
    tmp_path: Path, db: peewee.Database
) -> None:
    config = load_config(str(write_config(tmp_path, retention_every_minutes=0)))
    seed()
    assert Retention().run_due(db, config, NOW) is None
    assert "old" in event_titles()


def test_batches_release_the_write_lock_in_between(tmp_path: Path, db: peewee.Database) -> None:
    for n in range(7):
        event(f"old-{n}", 40 * DAY)
    other = sqlite3.connect(tmp_path / "mrt.sqlite3", timeout=0, isolation_level=None)
    turns = []

    def another_writer() -> None:
        # timeout=0: this fails at once ("database is locked") if a batch still held the lock
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE source_state SET health = 'ok'")
        other.execute("COMMIT")
        turns.append(Event.select().count())

    counts = prune(db, now=NOW, event_days=30, alert_days=90, batch=2,
                   between_batches=another_writer)
    other.close()
    assert counts.events == 7 and Event.select().count() == 0
    assert turns == [5, 3, 1]  # a turn for another writer after every full batch


def test_the_daemon_prunes_on_its_own_loop(tmp_path: Path) -> None:
    path = write_config(tmp_path)

    async def daemon() -> None:
        rt = await build_runtime(str(path), env={}, pool=make_pool(FakeClock()))
        try:
            seed()
            stop = asyncio.Event()
            await run_daemon(rt, stop, asyncio.Event(), now=stop_after_one_tick(stop, NOW))
            assert "old" not in event_titles() and "old-sent" not in alert_titles()
            assert "fresh" in event_titles() and "old-dead" in alert_titles()
        finally:
            rt.db.close()

    asyncio.run(daemon())


def test_config_check_refuses_a_negative_schedule(tmp_path: Path) -> None:
    from mrt.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        load_config(str(write_config(tmp_path, retention_every_minutes=-5)))
    assert "observability.retention_every_minutes" in str(caught.value)
    assert isinstance(load_config(str(write_config(tmp_path))), Config)


def test_a_locked_database_postpones_the_run_quietly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = load_config(str(write_config(tmp_path)))
    database = open_store(tmp_path / "mrt.sqlite3", now=NOW, busy_timeout_ms=50)
    try:
        seed()
        other = sqlite3.connect(tmp_path / "mrt.sqlite3", timeout=0, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        retention = Retention()
        with caplog.at_level(logging.INFO):
            assert retention.run_due(database, config, NOW) is None
        other.execute("ROLLBACK")
        other.close()
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # the watch says it
        assert "old" in event_titles()
        assert retention.next_at == NOW + timedelta(minutes=5)  # sooner than the hour
        counts = retention.run_due(database, config, NOW + timedelta(minutes=5))
        assert counts is not None and counts.events == 4
    finally:
        database.close()

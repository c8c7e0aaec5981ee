"""commit_cycle writes a cycle with set-based statements, on SQLite and PostgreSQL alike.

The rows it writes are the ones the models describe (every field, JSON and aware datetimes
round-tripping, defaults filled), and the number of statements a cycle runs does not grow with
the number of its events, alerts and deliveries.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import peewee

from mrt.delivery.base import Message
from mrt.events import TrackerEvent
from mrt.store import sources
from mrt.store.cycle import CycleSuccess, PlannedAlert, PlannedDelivery, PlannedEvent, commit_cycle
from mrt.store.db import write_transaction
from mrt.store.models import Alert, CycleMetric, Event, Outbox, ResourceSnapshot, SourceState

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
KEY = "github:a/b"


def event(n: int) -> TrackerEvent:
    return TrackerEvent(
        source="github",
        source_key=KEY,
        resource_type="issue",
        resource_id=f"a/b#{n}",
        event_type="issue_opened",
        event_id=f"{n}:opened",
        title=f"issue {n} — ünïcode",
        summary=f"body of {n}",
        url=f"https://github.com/a/b/issues/{n}",
        author="octo",
        labels=("bug", "p1") if n % 2 else (),
        occurred_at=NOW - timedelta(minutes=n),
        observed_at=NOW,
        details={"number": n, "nested": {"x": [n, None, True]}},
        raw={"id": n},
    )


def planned_cycle(count: int, first: int = 1) -> list[PlannedEvent]:
    """Every third event alerts to two targets (one named twice), the rest are quiet."""
    planned = []
    for n in range(first, first + count):
        if n % 3 == 0:
            hook = PlannedDelivery("hook", "json://h/x", Message(f"s{n}", f"body {n}"))
            mail = PlannedDelivery("mail", "mailto://m/y", Message(f"s{n}", f"mail {n}"))
            alert = PlannedAlert(
                title=f"issue {n}",
                priority="high",
                tags=("t", "u"),
                matched=[{"rule": "r", "reasons": ["why"]}],
                deliveries=(hook, mail, hook),
                group_key=f"g{n}",
                payload={"missing_channels": ["gone"]},
            )
            detail: dict[str, Any] = {"matched": ["r"], "why": {"r": ["why"]}}
            planned.append(PlannedEvent(event(n), "notify", detail, alert))
        else:
            planned.append(PlannedEvent(event(n), "none", {"nearest": None}))
    return planned


def success(snapshots: dict[str, dict[str, Any]]) -> CycleSuccess:
    return CycleSuccess(
        cursor={"since": "x"},
        validators={},
        snapshots=snapshots,
        degraded=None,
        http_status=200,
        ratelimit_remaining=None,
        ratelimit_reset_at=None,
        next_poll_at=NOW,
    )


def commit(db: peewee.Database, planned: list[PlannedEvent], snaps: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    with write_transaction(db):
        return commit_cycle(
            db, KEY, planned, success(snaps or {}), rule_digest="d", rule_canonical={"r": 1},
            metric={"requests": 1, "outcome": "ok"}, now=NOW,
        )


def test_every_row_as_the_models_describe_it(store_db: peewee.Database) -> None:
    sources.ensure_states([(KEY, "github")], NOW)
    planned = planned_cycle(12)
    planned.append(planned[4])  # a repeat within the cycle is stored once
    counts = commit(store_db, planned, {"a/b#1": {"state": "open"}})
    assert (counts.new_events, counts.repeats, counts.alerts, counts.deliveries) == (12, 1, 4, 8)

    stored = list(Event.select().order_by(Event.id))
    assert [e.fingerprint for e in stored] == [p.event.fingerprint for p in planned[:12]]
    third, second = stored[2], stored[1]
    assert third.title == "issue 3 — ünïcode" and third.labels == ["bug", "p1"] and second.labels == []
    assert third.details == {"number": 3, "nested": {"x": [3, None, True]}} and third.raw == {"id": 3}
    assert third.occurred_at == NOW - timedelta(minutes=3) and third.observed_at == NOW
    assert third.decision == "notify" and third.decision_detail == {"matched": ["r"], "why": {"r": ["why"]}}
    assert third.rule_version_id and third.error is None and third.silence_id is None
    assert second.decision_detail == {"nearest": None} and second.legacy_fingerprint is None

    alerts = list(Alert.select().order_by(Alert.id))
    assert counts.alert_ids == [a.id for a in alerts]
    assert [a.event_id for a in alerts] == [stored[n - 1].id for n in (3, 6, 9, 12)]
    a = alerts[0]
    assert (a.kind, a.fingerprint, a.group_key, a.title, a.source_key, a.priority) == (
        "event", stored[2].fingerprint, "g3", "issue 3", KEY, "high")
    assert a.tags == ["t", "u"] and a.matched == [{"rule": "r", "reasons": ["why"]}]
    assert a.payload == {"missing_channels": ["gone"]} and a.created_at == NOW
    assert a.rule_version_id == third.rule_version_id and a.acknowledged_at is None

    rows = list(Outbox.select().order_by(Outbox.id))
    assert [(o.alert_id, o.channel, o.target, o.body) for o in rows[:2]] == [
        (a.id, "hook", "json://h/x", "body 3"), (a.id, "mail", "mailto://m/y", "mail 3")]
    o = rows[0]
    assert (o.status, o.attempts, o.subject, o.lease_owner, o.sent_at) == ("pending", 0, "s3", None, None)
    assert o.next_attempt_at == NOW and o.created_at == NOW and o.updated_at == NOW

    snap = ResourceSnapshot.get(ResourceSnapshot.resource_key == "a/b#1")
    assert snap.state == {"state": "open"} and snap.updated_at == NOW
    assert CycleMetric.get().new_events == 12

    # the next cycle: an upsert of the known snapshot, a new one, repeats skipped
    later = planned_cycle(6, first=10)
    counts = commit(store_db, later, {"a/b#1": {"state": "closed"}, "a/b#2": {"state": "open"}})
    assert (counts.new_events, counts.repeats, counts.alerts, counts.deliveries) == (3, 3, 1, 2)
    states = {s.resource_key: s.state for s in ResourceSnapshot.select()}
    assert states == {"a/b#1": {"state": "closed"}, "a/b#2": {"state": "open"}}
    assert Event.select().count() == 15 and Outbox.select().count() == 10


class _CountingCursor(sqlite3.Cursor):
    calls = 0

    def execute(self, *args: Any) -> Any:  # type: ignore[override]
        _CountingCursor.calls += 1
        return super().execute(*args)

    def executemany(self, *args: Any) -> Any:  # type: ignore[override]
        _CountingCursor.calls += 1
        return super().executemany(*args)


@contextmanager
def counting(db: peewee.Database) -> Iterator[type[_CountingCursor]]:
    """Count the statements handed to the driver (execute and executemany each count one)."""
    real = db.cursor
    db.cursor = lambda *a, **k: db.connection().cursor(_CountingCursor)  # type: ignore[method-assign]
    _CountingCursor.calls = 0
    try:
        yield _CountingCursor
    finally:
        db.cursor = real  # type: ignore[method-assign]


def test_statements_per_cycle_do_not_grow_with_its_rows(db: peewee.Database) -> None:
    sources.ensure_states([(KEY, "github")], NOW)
    commit(db, planned_cycle(3, first=1000))  # the rule version exists from here on

    def statements(first: int, count: int) -> int:
        snaps = {f"a/b#{n}": {"n": n} for n in range(first, first + count)}
        with counting(db) as cursor:
            counts = commit(db, planned_cycle(count, first), snaps)
        assert counts.new_events == count and counts.deliveries == 2 * (count // 3)
        return cursor.calls

    small, large = statements(1, 6), statements(100, 240)
    assert small == large, (small, large)


def test_the_cursor_state_and_metric_a_cycle_commits(store_db: peewee.Database) -> None:
    sources.ensure_states([(KEY, "github"), ("github:c/d", "github")], NOW)
    SourceState.update(
        consecutive_failures=3, last_error="boom", last_error_class="network", health="failing",
        deferred_until=NOW, poll_requested_at=NOW - timedelta(seconds=1),
    ).where(SourceState.source_key == KEY).execute()
    sources.request_poll("github:c/d", NOW + timedelta(seconds=5))  # asked after the cycle began
    reset = NOW + timedelta(hours=1)
    done = CycleSuccess(
        cursor={"since": "2026-12-05T09:00:00Z", "ünï": [1, 2]}, validators={"u": {"etag": "W/1"}},
        snapshots={}, degraded="one page of three", http_status=206, ratelimit_remaining=4983,
        ratelimit_reset_at=reset, next_poll_at=NOW + timedelta(minutes=5),
    )
    for first, key in ((1, KEY), (10, "github:c/d")):
        with write_transaction(store_db):
            commit_cycle(store_db, key, planned_cycle(2, first), done, rule_digest="d",
                         rule_canonical={"r": 1}, metric={"requests": 3, "outcome": "ok"},
                         now=NOW)
    state = sources.get_state(KEY)
    assert state.cursor == done.cursor and state.validators == done.validators
    assert (state.last_poll_at, state.last_success_at, state.updated_at) == (NOW, NOW, NOW)
    assert (state.last_error, state.last_error_class, state.consecutive_failures) == (None, None, 0)
    assert (state.health, state.health_detail, state.last_http_status) == (
        "degraded", "one page of three", 206)
    assert (state.ratelimit_remaining, state.ratelimit_reset_at) == (4983, reset)
    assert state.next_poll_at == NOW + timedelta(minutes=5) and state.deferred_until is None
    assert state.poll_requested_at is None  # asked before the cycle began: answered
    other = sources.get_state("github:c/d")
    assert other.poll_requested_at == NOW + timedelta(seconds=5)  # asked since: kept
    metrics = list(CycleMetric.select().order_by(CycleMetric.id))
    assert [(m.source_key, m.started_at, m.new_events, m.requests, m.outcome) for m in metrics] == [
        (KEY, NOW, 2, 3, "ok"), ("github:c/d", NOW, 2, 3, "ok")]


def test_a_cycle_builds_no_query_through_peewee(store_db: peewee.Database) -> None:
    """Every statement of a steady cycle is SQL text built once (store/bulk.py): peewee's query
    builder (Database.execute of a Query) is not on the path, on SQLite and PostgreSQL."""
    sources.ensure_states([(KEY, "github")], NOW)
    commit(store_db, planned_cycle(3, first=1000))  # the rule version exists from here on
    built: list[str] = []
    real = store_db.execute
    store_db.execute = lambda query, *a, **k: built.append(type(query).__name__) or real(query, *a, **k)  # type: ignore[method-assign]
    try:
        counts = commit(store_db, planned_cycle(9), {f"a/b#{n}": {"n": n} for n in range(5)})
    finally:
        store_db.execute = real  # type: ignore[method-assign]
    assert counts.new_events == 9 and counts.alerts == 3
    assert built == []


class _Recording:
    """A driver cursor that notes each statement's verb and table, and otherwise is the cursor."""

    def __init__(self, cursor: Any, log: list[tuple[str, str]]) -> None:
        self._cursor, self._log = cursor, log

    def _note(self, sql: str) -> None:
        words = sql.split()
        table = next((w for w in words if w.startswith('"')), "")
        self._log.append((words[0].upper(), table.strip('",')))

    def execute(self, sql: str, *args: Any) -> Any:
        self._note(sql)
        return self._cursor.execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> Any:
        self._note(sql)
        return self._cursor.executemany(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


def test_one_statement_a_table_and_on_postgresql_no_read_of_new_ids(
    store_db: peewee.Database,
) -> None:
    """On PostgreSQL every statement is a round trip: the events' dedupe and ids and the alerts'
    ids come back with their INSERTs; SQLite reads them (cheap, in process) after executemany."""
    sources.ensure_states([(KEY, "github")], NOW)
    commit(store_db, planned_cycle(3, first=1000))  # the rule version exists from here on
    log: list[tuple[str, str]] = []
    real = store_db.cursor
    store_db.cursor = lambda *a, **k: _Recording(real(*a, **k), log)  # type: ignore[method-assign]
    try:
        counts = commit(store_db, [*planned_cycle(9), *planned_cycle(3, first=1000)],
                        {f"a/b#{n}": {"n": n} for n in range(5)})
    finally:
        store_db.cursor = real  # type: ignore[method-assign]
    assert (counts.new_events, counts.repeats, counts.alerts, counts.deliveries) == (9, 3, 3, 6)
    writes = [entry for entry in log if entry[0] not in ("SELECT", "BEGIN", "COMMIT")]
    assert writes == [("INSERT", "event"), ("INSERT", "alert"), ("INSERT", "outbox"),
                      ("INSERT", "resource_snapshot"), ("UPDATE", "source_state"),
                      ("INSERT", "cycle_metric")]
    reads = [table for verb, table in log if verb == "SELECT"]
    if isinstance(store_db, peewee.SqliteDatabase):
        # the rule version, the known fingerprints, the alerting events' ids, the alerts' ids
        assert len(reads) == 4
    else:
        assert len(reads) == 1  # the rule version's id only
    assert Event.select().count() == 12 and Alert.select().count() == 4

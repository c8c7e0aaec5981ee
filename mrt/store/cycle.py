"""The one transaction of a source cycle: events, decisions, alerts, outbox rows and the cursor.

Everything a cycle observed and decided is committed together with the cursor's move, so a crash
at any instant either loses the whole cycle (the next one sees the same events again and the
fingerprints make that harmless) or keeps all of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import peewee

from mrt.events import TrackerEvent
from mrt.message import Message
from mrt.store import outbox, sources
from mrt.store.bulk import RowInsert, rows_in
from mrt.store.db import bound_database, is_sqlite, require_transaction
from mrt.store.models import Alert, CycleMetric, Event, Outbox, RuleVersion


@dataclass(frozen=True, slots=True)
class PlannedDelivery:
    channel: str
    target_key: str
    message: Message


@dataclass(frozen=True, slots=True)
class PlannedAlert:
    title: str
    priority: str
    tags: tuple[str, ...]
    matched: list[dict[str, Any]]
    deliveries: tuple[PlannedDelivery, ...]
    group_key: str | None = None
    # what planning recorded about the alert itself (mrt/alerting.py: missing_channels, ...)
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PlannedEvent:
    event: TrackerEvent
    decision: str  # notify | suppress | aggregate | digest | none | silenced | baseline | seen_by_v0 | failed
    detail: dict[str, Any] = field(default_factory=dict)
    alert: PlannedAlert | None = None
    error: str | None = None
    silence: int | None = None  # the Silence that muted it (decision "silenced")


@dataclass(frozen=True, slots=True)
class CycleSuccess:
    cursor: dict[str, Any]
    validators: dict[str, Any]
    snapshots: dict[str, dict[str, Any]]
    degraded: str | None
    http_status: int | None
    ratelimit_remaining: int | None
    ratelimit_reset_at: datetime | None
    next_poll_at: datetime


@dataclass(slots=True)
class CycleCounts:
    new_events: int = 0
    repeats: int = 0
    matched: int = 0
    alerts: int = 0
    deliveries: int = 0
    alert_ids: list[int] = field(default_factory=list)


def existing_fingerprints(fingerprints: list[str]) -> set[str]:
    return set(event_ids(fingerprints))


def rule_version_id(digest: str, canonical: dict[str, Any], now: datetime) -> int:
    # the id only: reading the row would parse the whole rule set's JSON every cycle
    db = bound_database()
    found = _version_of(db, digest)
    if found is None:  # another worker's first cycle under these rules may store it first
        RuleVersion.insert(
            digest=digest, rules=canonical, created_at=now
        ).on_conflict_ignore().execute()
        found = _version_of(db, digest)
    return int(found)


def _version_of(db: peewee.Database, digest: str) -> Any:
    rows = rows_in(db, 'SELECT "id" FROM "rule_version" WHERE "digest" IN ({marks})', [digest])
    return rows[0][0] if rows else None


# a new event's columns, in the order event_values lists them
EVENTS = RowInsert(
    Event,
    (
        "fingerprint", "source", "source_key", "resource_type", "resource_id", "event_type",
        "event_id", "title", "summary", "url", "author", "labels", "occurred_at", "observed_at",
        "details", "raw", "legacy_fingerprint", "decision", "decision_detail", "rule_version",
        "error", "silence",
    ),
)


# PostgreSQL: the same insert, skipping a fingerprint stored before (by an earlier cycle, or by
# another worker meanwhile: the unique index waits for its transaction), returning the ids
NEW_EVENTS = RowInsert(EVENTS.model, EVENTS.columns, suffix='ON CONFLICT ("fingerprint") DO NOTHING')


def insert_new_events(
    db: peewee.Database, planned: list[PlannedEvent], version_id: int | None
) -> tuple[list[tuple[str, PlannedEvent]], dict[str, int]]:
    """Store the events of `planned` not stored before, each once; returns them (fingerprint,
    plan) in order, and {fingerprint: event id} of those that alert. A repeat (overlap,
    restart, another worker) is harmless by design: skipped, with its plan.

    SQLite: one read of the fingerprints known, one `executemany`, one read of the alerting
    events' ids. PostgreSQL (a round trip a statement): one INSERT ... ON CONFLICT DO NOTHING
    RETURNING, which skips the known ones and returns the new ones' ids.
    """
    fingerprints = [p.event.fingerprint for p in planned]
    sqlite = is_sqlite(db)
    seen = existing_fingerprints(fingerprints) if sqlite else set()
    fresh: list[tuple[str, PlannedEvent]] = []
    for fp, p in zip(fingerprints, planned, strict=True):
        if fp not in seen:
            seen.add(fp)
            fresh.append((fp, p))
    rows = (event_values(fp, p, version_id) for fp, p in fresh)
    if sqlite:
        EVENTS.execute(db, rows)
        return fresh, event_ids([fp for fp, p in fresh if p.alert is not None])
    ids = {fp: int(i) for fp, i in NEW_EVENTS.returning(db, rows, '"fingerprint", "id"')}
    return [(fp, p) for fp, p in fresh if fp in ids], ids


def event_values(fp: str, planned: PlannedEvent, version_id: int | None) -> tuple[Any, ...]:
    e = planned.event
    return (
        fp, e.source, e.source_key, e.resource_type, e.resource_id, e.event_type,
        e.event_id, e.title, e.summary, e.url, e.author, list(e.labels), e.occurred_at,
        e.observed_at, e.details, e.raw, e.legacy_fingerprint, planned.decision, planned.detail,
        version_id, planned.error, planned.silence,
    )


def event_ids(fingerprints: list[str]) -> dict[str, int]:
    sql = 'SELECT "fingerprint", "id" FROM "event" WHERE "fingerprint" IN ({marks})'
    return {fp: int(event_id) for fp, event_id in rows_in(bound_database(), sql, fingerprints)}


def create_alert(
    plan: PlannedAlert,
    *,
    event_id: int | None,
    fingerprint: str | None,
    source_key: str | None,
    version_id: int | None,
    kind: str,
    now: datetime,
    payload: dict[str, Any] | None = None,
) -> tuple[int, int]:
    """An alert and its outbox rows; returns (alert id, deliveries enqueued)."""
    alert = Alert.create(
        kind=kind,
        event=event_id,
        fingerprint=fingerprint,
        group_key=plan.group_key,
        title=plan.title,
        source_key=source_key,
        priority=plan.priority,
        tags=list(plan.tags),
        matched=plan.matched,
        rule_version=version_id,
        payload={**plan.payload, **(payload or {})},
        created_at=now,
    )
    enqueued = outbox.enqueue_new_alert(
        int(alert.id), ((d.channel, d.target_key, d.message) for d in plan.deliveries), now
    )
    return int(alert.id), enqueued


ALERTS = RowInsert(
    Alert,
    ("kind", "event", "fingerprint", "group_key", "title", "source_key", "priority", "tags",
     "matched", "rule_version", "payload", "created_at"),
)
# a new alert's deliveries: the same rows outbox.enqueue_new_alert writes for one alert
OUTBOX = RowInsert(
    Outbox,
    ("alert", "channel", "target", "status", "subject", "body", "next_attempt_at", "created_at",
     "updated_at"),
)


def create_event_alerts(
    db: peewee.Database,
    alerts: list[tuple[int, str, PlannedAlert]],
    *,
    source_key: str,
    version_id: int | None,
    now: datetime,
) -> tuple[list[int], int]:
    """The alerts of a cycle's new events, (event id, fingerprint, plan) each, with their
    outbox rows: one insert of the alerts, one read of their ids, one insert of the deliveries,
    instead of create_alert's statements per alert. Returns the alert ids, in the order given,
    and how many deliveries were enqueued (a (channel, target) named twice is enqueued once).
    Each event is new in this transaction, so it has no other alert to be confused with.
    """
    if not alerts:
        return [], 0
    rows = (
        ("event", event_id, fp, plan.group_key, plan.title, source_key, plan.priority,
         list(plan.tags), plan.matched, version_id, dict(plan.payload), now)
        for event_id, fp, plan in alerts
    )
    if is_sqlite(db):
        ALERTS.execute(db, rows)
        by_event = alert_ids_of_events([event_id for event_id, _, _ in alerts])
    else:  # one round trip: the ids come back with the insert
        by_event = {int(e): int(a) for e, a in ALERTS.returning(db, rows, '"event_id", "id"')}
    ids: list[int] = []
    deliveries: list[tuple[Any, ...]] = []
    for event_id, _, plan in alerts:
        alert_id = by_event[event_id]
        ids.append(alert_id)
        targets: set[tuple[str, str]] = set()
        for d in plan.deliveries:
            if (d.channel, d.target_key) in targets:
                continue
            targets.add((d.channel, d.target_key))
            deliveries.append(
                (alert_id, d.channel, d.target_key, "pending", d.message.subject, d.message.body,
                 now, now, now)
            )
    return ids, OUTBOX.execute(db, deliveries)


def alert_ids_of_events(event_ids_: list[int]) -> dict[int, int]:
    """{event id: its event alert's id}."""
    sql = """SELECT "event_id", "id" FROM "alert" WHERE "event_id" IN ({marks}) AND "kind" = 'event'"""
    rows = rows_in(bound_database(), sql, event_ids_)
    return {int(event): int(alert) for event, alert in rows}


def commit_cycle(
    db: peewee.Database,
    source_key: str,
    planned: list[PlannedEvent],
    success: CycleSuccess,
    *,
    rule_digest: str,
    rule_canonical: dict[str, Any],
    metric: dict[str, Any],
    now: datetime,
) -> CycleCounts:
    """Store one cycle in the caller's write transaction (the pipeline's, which also holds the
    cycle's aggregate members, digest items and quarantined items): never a nested one of its
    own, so what commits together is decided in one place. RuntimeError when none is open."""
    counts = CycleCounts()
    require_transaction(db, "commit_cycle")
    version_id = rule_version_id(rule_digest, rule_canonical, now)
    fresh, ids = insert_new_events(db, planned, version_id)
    counts.new_events, counts.repeats = len(fresh), len(planned) - len(fresh)
    counts.matched = sum(1 for _, p in fresh if p.detail.get("matched"))
    alerting = [(fp, p.alert) for fp, p in fresh if p.alert is not None]
    counts.alert_ids, counts.deliveries = create_event_alerts(
        db,
        [(ids[fp], fp, alert) for fp, alert in alerting],
        source_key=source_key,
        version_id=version_id,
        now=now,
    )
    counts.alerts = len(counts.alert_ids)
    sources.upsert_snapshots(source_key, success.snapshots, now)
    sources.record_success(
        source_key,
        cursor=success.cursor,
        validators=success.validators,
        degraded=success.degraded,
        http_status=success.http_status,
        ratelimit_remaining=success.ratelimit_remaining,
        ratelimit_reset_at=success.ratelimit_reset_at,
        now=now,
        next_poll_at=success.next_poll_at,
    )
    record_metric(
        source_key,
        now,
        new_events=counts.new_events,
        matched=counts.matched,
        alerts=counts.alerts,
        **metric,
    )
    return counts


# a cycle's metric row, one insert built once per set of fields a caller names
_METRICS: dict[tuple[str, ...], RowInsert] = {}


def record_metric(source_key: str, now: datetime, **fields: Any) -> None:
    names = tuple(fields)
    insert = _METRICS.get(names)
    if insert is None:
        insert = _METRICS[names] = RowInsert(CycleMetric, ("source_key", "started_at", *names))
    insert.execute(bound_database(), [(source_key, now, *fields.values())])

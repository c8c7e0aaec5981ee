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
from mrt.store.db import require_transaction
from mrt.store.models import Alert, CycleMetric, Event, RuleVersion


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
    row = RuleVersion.get_or_none(RuleVersion.digest == digest)
    if row is None:  # another worker's first cycle under these rules may store it first
        RuleVersion.insert(digest=digest, rules=canonical, created_at=now).on_conflict_ignore().execute()
        row = RuleVersion.get(RuleVersion.digest == digest)
    return int(row.id)


def _event_row(planned: PlannedEvent, version_id: int | None) -> dict[str, Any]:
    e = planned.event
    return {
        "fingerprint": e.fingerprint,
        "source": e.source,
        "source_key": e.source_key,
        "resource_type": e.resource_type,
        "resource_id": e.resource_id,
        "event_type": e.event_type,
        "event_id": e.event_id,
        "title": e.title,
        "summary": e.summary,
        "url": e.url,
        "author": e.author,
        "labels": list(e.labels),
        "occurred_at": e.occurred_at,
        "observed_at": e.observed_at,
        "details": e.details,
        "raw": e.raw,
        "legacy_fingerprint": e.legacy_fingerprint,
        "decision": planned.decision,
        "decision_detail": planned.detail,
        "rule_version": version_id,
        "error": planned.error,
        "silence": planned.silence,
    }


# 22 columns a row: 40 rows stay well under SQLite's oldest bound-variable limit (999)
_EVENT_BATCH = 40


def _insert_events(rows: list[dict[str, Any]]) -> None:
    """A cycle's new events in upstream order, many rows per statement."""
    for start in range(0, len(rows), _EVENT_BATCH):
        Event.insert_many(rows[start : start + _EVENT_BATCH]).execute()


def event_ids(fingerprints: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(fingerprints), 500):
        chunk = fingerprints[start : start + 500]
        query = Event.select(Event.id, Event.fingerprint).where(Event.fingerprint.in_(chunk))
        found.update({row.fingerprint: int(row.id) for row in query})
    return found


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
    seen = existing_fingerprints([p.event.fingerprint for p in planned])
    fresh: list[PlannedEvent] = []
    for p in planned:
        fp = p.event.fingerprint
        if fp in seen:  # a repeat (overlap, restart, another worker): harmless by design
            counts.repeats += 1
            continue
        seen.add(fp)
        fresh.append(p)
        if p.detail.get("matched"):
            counts.matched += 1
    counts.new_events = len(fresh)
    _insert_events([_event_row(p, version_id) for p in fresh])
    ids = event_ids([p.event.fingerprint for p in fresh if p.alert is not None])
    for p in fresh:
        if p.alert is None:
            continue
        fp = p.event.fingerprint
        alert_id, enqueued = create_alert(
            p.alert,
            event_id=ids[fp],
            fingerprint=fp,
            source_key=source_key,
            version_id=version_id,
            kind="event",
            now=now,
        )
        counts.alerts += 1
        counts.deliveries += enqueued
        counts.alert_ids.append(alert_id)
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
    CycleMetric.create(
        source_key=source_key,
        started_at=now,
        new_events=counts.new_events,
        matched=counts.matched,
        alerts=counts.alerts,
        **metric,
    )
    return counts


def record_metric(source_key: str, now: datetime, **fields: Any) -> None:
    CycleMetric.create(source_key=source_key, started_at=now, **fields)

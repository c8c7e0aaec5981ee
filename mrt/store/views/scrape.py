"""What a Prometheus scrape reads from the database (worker/metrics.py turns it into series).

Gauges are read as the database stands at scrape time, so every worker, the CLI and the console
agree and nothing is lost on a restart. Counters come from the rows written since the scraper's
last look (`cycles_after`, `attempts_after` by id), so no new column or table is needed.

    source_gauges(now)        each source's state: health, failures, rate limit, cursor age
    target_gauges()           each delivery target's queue: depth, oldest queued row, dead
    worker_gauges(now)        live workers: heartbeat, leases held
    cycles_after(id)          per-cycle figures written after `id`
    attempts_after(id)        delivery attempts written after `id`
    newest_ids()              where a fresh scraper starts counting
    readiness(db, ...)        what keeps the worker from being ready ([] when ready)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import peewee

from mrt.store.models import CycleMetric, DeliveryAttempt, Outbox, SourceState, WorkerHeartbeat
from mrt.store.views._sql import tuples
from mrt.store.views.outbox import QUEUED_STATUSES

# a heartbeat older than this is a worker that is gone (the worker beats every 10 s)
LIVE_AFTER = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class SourceGauge:
    key: str
    health: str
    consecutive_failures: int
    ratelimit_remaining: int | None
    last_success_at: datetime | None


@dataclass(frozen=True, slots=True)
class TargetGauge:
    channel: str
    target: str  # the redacted URL the outbox stores: never a secret
    depth: int
    oldest_pending_at: datetime | None
    dead: int


@dataclass(frozen=True, slots=True)
class WorkerGauge:
    worker_id: str
    version: str
    heartbeat_at: datetime
    source_leases: int
    outbox_leases: int


@dataclass(frozen=True, slots=True)
class CycleRow:
    id: int
    source_key: str
    outcome: str
    duration_ms: int
    fetched: int
    new_events: int
    matched: int
    http_statuses: dict[str, int]


@dataclass(frozen=True, slots=True)
class AttemptRow:
    id: int
    channel: str
    target: str
    outcome: str


def _when(field: peewee.Field, value: Any) -> datetime | None:
    """An aggregate's datetime: SQLite hands MIN(...) back as text."""
    if value is None or isinstance(value, datetime):
        return value
    converted: datetime | None = field.python_value(value)  # type: ignore[no-untyped-call]
    return converted


def source_gauges() -> list[SourceGauge]:
    rows = SourceState.select(
        SourceState.source_key,
        SourceState.health,
        SourceState.consecutive_failures,
        SourceState.ratelimit_remaining,
        SourceState.last_success_at,
    ).order_by(SourceState.source_key)
    return [
        SourceGauge(key, health or "new", int(failures or 0), remaining, success)
        for key, health, failures, remaining, success in tuples(rows)
    ]


def target_gauges() -> list[TargetGauge]:
    """Every target with a queued or dead row (a quiet target has no series: nothing waits)."""
    queued = peewee.fn.SUM(peewee.Case(None, ((Outbox.status.in_(QUEUED_STATUSES), 1),), 0))
    dead = peewee.fn.SUM(peewee.Case(None, ((Outbox.status == "dead", 1),), 0))
    oldest = peewee.fn.MIN(
        peewee.Case(None, ((Outbox.status.in_(QUEUED_STATUSES), Outbox.created_at),), None)
    )
    query = (
        Outbox.select(Outbox.channel, Outbox.target, queued, oldest, dead)
        .where(Outbox.status.in_((*QUEUED_STATUSES, "dead")))
        .group_by(Outbox.channel, Outbox.target)
        .order_by(Outbox.channel, Outbox.target)
    )
    return [
        TargetGauge(channel, target, int(depth or 0), _when(Outbox.created_at, first), int(n or 0))
        for channel, target, depth, first, n in tuples(query)
    ]


def worker_gauges(now: datetime) -> list[WorkerGauge]:
    """Workers whose heartbeat is fresh, with the source and outbox leases each holds now."""
    live = tuples(
        WorkerHeartbeat.select(
            WorkerHeartbeat.worker_id, WorkerHeartbeat.version, WorkerHeartbeat.heartbeat_at
        )
        .where(
            WorkerHeartbeat.stopped_at.is_null()
            & (WorkerHeartbeat.heartbeat_at >= now - LIVE_AFTER)
        )
        .order_by(WorkerHeartbeat.worker_id)
    )
    if not live:
        return []
    ids = [row[0] for row in live]
    sources = dict(
        tuples(
            SourceState.select(SourceState.lease_owner, peewee.fn.COUNT(SourceState.source_key))
            .where(SourceState.lease_owner.in_(ids) & (SourceState.lease_expires_at > now))
            .group_by(SourceState.lease_owner)
        )
    )
    outbox = dict(
        tuples(
            Outbox.select(Outbox.lease_owner, peewee.fn.COUNT(Outbox.id))
            .where(
                Outbox.lease_owner.in_(ids)
                & (Outbox.status == "sending")
                & (Outbox.lease_expires_at > now)
            )
            .group_by(Outbox.lease_owner)
        )
    )
    return [
        WorkerGauge(
            wid, version, _when(WorkerHeartbeat.heartbeat_at, beat) or now,
            int(sources.get(wid, 0)), int(outbox.get(wid, 0)),
        )
        for wid, version, beat in live
    ]


def newest_ids() -> tuple[int, int]:
    """The newest cycle-metric and delivery-attempt ids: a scraper counts what comes after."""
    cycle = CycleMetric.select(peewee.fn.MAX(CycleMetric.id)).scalar()
    attempt = DeliveryAttempt.select(peewee.fn.MAX(DeliveryAttempt.id)).scalar()
    return int(cycle or 0), int(attempt or 0)


def cycles_after(after_id: int, *, limit: int = 5000) -> list[CycleRow]:
    query = (
        CycleMetric.select(
            CycleMetric.id,
            CycleMetric.source_key,
            CycleMetric.outcome,
            CycleMetric.duration_ms,
            CycleMetric.fetched,
            CycleMetric.new_events,
            CycleMetric.matched,
            CycleMetric.http_statuses,
        )
        .where(CycleMetric.id > after_id)
        .order_by(CycleMetric.id)
        .limit(limit)
    )
    rows = []
    for row in query:
        statuses = row.http_statuses if isinstance(row.http_statuses, dict) else {}
        rows.append(
            CycleRow(
                int(row.id), row.source_key, row.outcome or "ok", int(row.duration_ms or 0),
                int(row.fetched or 0), int(row.new_events or 0), int(row.matched or 0),
                {str(k): int(v) for k, v in statuses.items() if isinstance(v, int)},
            )
        )
    return rows


def attempts_after(after_id: int, *, limit: int = 5000) -> list[AttemptRow]:
    query = (
        DeliveryAttempt.select(
            DeliveryAttempt.id, Outbox.channel, Outbox.target, DeliveryAttempt.outcome
        )
        .join(Outbox, on=(DeliveryAttempt.outbox == Outbox.id))
        .where(DeliveryAttempt.id > after_id)
        .order_by(DeliveryAttempt.id)
        .limit(limit)
    )
    return [AttemptRow(int(i), c, t, o) for i, c, t, o in tuples(query)]


def readiness(db: peewee.Database, *, latest: int, failing_after: int) -> list[str]:
    """Why the worker is not ready: the schema is not `latest`, or a source has failed
    `failing_after` cycles in a row. [] when ready. A database that cannot be reached raises."""
    from mrt.store.migrations import schema_version  # migrations imports the models' module

    problems = []
    version = schema_version(db)
    if version != latest:
        problems.append(f"the schema is at version {version}, this worker needs {latest}")
    failing = tuples(
        SourceState.select(SourceState.source_key, SourceState.consecutive_failures)
        .where(SourceState.consecutive_failures >= failing_after)
        .order_by(SourceState.source_key)
    )
    for key, failures in failing:
        problems.append(f"source {key} failed {failures} cycles in a row")
    return problems

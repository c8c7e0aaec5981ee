"""Metrics over a window ending at `now`: per source and overall, plus sparkline series."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import peewee

from mrt.store import quarantine
from mrt.store.db import bound_database, is_sqlite
from mrt.store.models import Alert, CycleMetric, DeliveryAttempt, Outbox
from mrt.store.views._sql import tuples
from mrt.store.views.alerts import went_to_no_one
from mrt.store.views.outbox import QUEUED_STATUSES


@dataclass(frozen=True, slots=True)
class Figures:
    """One row of the metrics screen: a source (or "all") over one window."""

    events: int = 0
    matches: int = 0
    alerts: int = 0
    deliveries_ok: int = 0
    deliveries_failed: int = 0
    quarantined: int = 0  # upstream items first kept aside in the window
    undelivered: int = 0  # alerts that went to no one (no outbox row at all)


@dataclass(frozen=True, slots=True)
class QueueFigures:
    depth: int = 0
    oldest_pending_at: datetime | None = None
    dead: int = 0


@dataclass(frozen=True, slots=True)
class MetricsReport:
    since: datetime
    overall: Figures
    per_source: dict[str, Figures]
    queue: QueueFigures
    queue_per_source: dict[str, QueueFigures]
    # one value per bucket, oldest first: events, alerts, deliveries ok, deliveries failed
    series: dict[str, list[int]]


def _bucket(column: peewee.Field, since: datetime, seconds: int) -> peewee.Node:
    """The bucket number of `column` since `since`, in SQL (SQLite or PostgreSQL)."""
    if is_sqlite(bound_database()):
        start = since.replace(tzinfo=None).isoformat(sep=" ")
        return peewee.fn.CAST(
            peewee.NodeList(
                (
                    (peewee.fn.julianday(column) - peewee.fn.julianday(start)) * (86400 / seconds),
                    peewee.SQL("AS INTEGER"),
                )
            )
        )
    epoch = peewee.fn.EXTRACT(peewee.NodeList((peewee.SQL("EPOCH FROM"), column - since)))
    return peewee.fn.FLOOR(epoch / seconds)


def _series(
    query: Any,
    column: peewee.Field,
    total: peewee.Node,
    since: datetime,
    seconds: int,
    buckets: int,
) -> list[int]:
    values = [0] * buckets
    bucket = _bucket(column, since, seconds)
    for b, n in tuples(query.select(bucket, total).group_by(bucket)):
        if b is not None and 0 <= int(b) < buckets:
            values[int(b)] += int(n or 0)
    return values


def metrics_report(
    now: datetime,
    window: timedelta,
    *,
    buckets: int = 24,
    queue: tuple[QueueFigures, dict[str, QueueFigures]] | None = None,
) -> MetricsReport:
    """Events, matches, alerts, deliveries (ok/failed) over `window` up to `now`, per source and
    overall, the queue as it stands, and per-bucket series for the sparklines.

    The queue does not depend on the window: pass the one a first report read (`queue=`) to
    spare the second report that query."""
    since = now - window
    seconds = max(1, int(window.total_seconds() // buckets))
    per: dict[str, dict[str, int]] = {}

    def add(key: str, name: str, n: Any) -> None:
        per.setdefault(key, {})[name] = per.get(key, {}).get(name, 0) + int(n or 0)

    cycles: Any = CycleMetric.select().where(
        (CycleMetric.started_at >= since) & (CycleMetric.started_at <= now)
    )
    for key, ev, ma in tuples(
        cycles.select(
            CycleMetric.source_key,
            peewee.fn.SUM(CycleMetric.new_events),
            peewee.fn.SUM(CycleMetric.matched),
        ).group_by(CycleMetric.source_key)
    ):
        add(key, "events", ev)
        add(key, "matches", ma)
    alerts: Any = Alert.select().where((Alert.created_at >= since) & (Alert.created_at <= now))
    for key, n in tuples(
        alerts.select(Alert.source_key, peewee.fn.COUNT(Alert.id)).group_by(Alert.source_key)
    ):
        add(key or "", "alerts", n)
    for key, n in tuples(
        alerts.select(Alert.source_key, peewee.fn.COUNT(Alert.id))
        .where(went_to_no_one())
        .group_by(Alert.source_key)
    ):
        add(key or "", "undelivered", n)
    tries: Any = (
        DeliveryAttempt.select()
        .join(Outbox, on=(DeliveryAttempt.outbox == Outbox.id))
        .join(Alert, on=(Outbox.alert == Alert.id))
        .where((DeliveryAttempt.started_at >= since) & (DeliveryAttempt.started_at <= now))
    )
    ok = peewee.fn.SUM(peewee.Case(None, ((DeliveryAttempt.outcome == "sent", 1),), 0))
    failed = peewee.fn.SUM(peewee.Case(None, ((DeliveryAttempt.outcome != "sent", 1),), 0))
    for key, n_ok, n_failed in tuples(
        tries.select(Alert.source_key, ok, failed).group_by(Alert.source_key)
    ):
        add(key or "", "deliveries_ok", n_ok)
        add(key or "", "deliveries_failed", n_failed)

    for key, n in quarantine.first_seen_between(since, now).items():
        add(key, "quarantined", n)

    per_source = {k: Figures(**v) for k, v in sorted(per.items())}
    overall = Figures(
        **{
            name: sum(getattr(f, name) for f in per_source.values())
            for name in (
                "events",
                "matches",
                "alerts",
                "deliveries_ok",
                "deliveries_failed",
                "quarantined",
                "undelivered",
            )
        }
    )
    queue_now, queue_per_source = queue if queue is not None else queue_figures()
    series = {
        "events": _series(
            cycles,
            CycleMetric.started_at,
            peewee.fn.SUM(CycleMetric.new_events),
            since,
            seconds,
            buckets,
        ),
        "alerts": _series(
            alerts, Alert.created_at, peewee.fn.COUNT(Alert.id), since, seconds, buckets
        ),
        "deliveries_ok": _series(tries, DeliveryAttempt.started_at, ok, since, seconds, buckets),
        "deliveries_failed": _series(
            tries, DeliveryAttempt.started_at, failed, since, seconds, buckets
        ),
    }
    return MetricsReport(since, overall, per_source, queue_now, queue_per_source, series)


def queue_figures() -> tuple[QueueFigures, dict[str, QueueFigures]]:
    """The outbox as it stands: depth, oldest queued row, dead letters; overall and per source."""
    queued = peewee.fn.SUM(peewee.Case(None, ((Outbox.status.in_(QUEUED_STATUSES), 1),), 0))
    dead = peewee.fn.SUM(peewee.Case(None, ((Outbox.status == "dead", 1),), 0))
    oldest = peewee.fn.MIN(
        peewee.Case(None, ((Outbox.status.in_(QUEUED_STATUSES), Outbox.created_at),), None)
    )
    query = (
        Outbox.select(Alert.source_key, queued, oldest, dead)
        .join(Alert, on=(Outbox.alert == Alert.id))
        .where(Outbox.status.in_((*QUEUED_STATUSES, "dead")))
        .group_by(Alert.source_key)
    )
    per: dict[str, QueueFigures] = {}
    for key, depth, first, n_dead in tuples(query):
        if isinstance(first, str):
            first = Outbox.created_at.python_value(first)
        per[key or ""] = QueueFigures(int(depth or 0), first, int(n_dead or 0))
    firsts = [q.oldest_pending_at for q in per.values() if q.oldest_pending_at is not None]
    overall = QueueFigures(
        depth=sum(q.depth for q in per.values()),
        oldest_pending_at=min(firsts) if firsts else None,
        dead=sum(q.dead for q in per.values()),
    )
    return overall, per

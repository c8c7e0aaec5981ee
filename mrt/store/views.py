"""The console's read queries: keyset pages, "newer than", filters in SQL, metrics aggregates.

Every list is paged with a keyset on an indexed column (`WHERE id < :last ORDER BY id DESC
LIMIT n`), never OFFSET and never a whole table: a year of history must open in under a second.
Live panes ask only for rows newer than the newest they show. Filters are SQL conditions, never a
pass over loaded rows. Results are plain frozen dataclasses, so a console thread never triggers a
lazy query on its UI thread. Metrics take `now` so that tests and screenshots are deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import peewee

from mrt.store.models import (
    Alert,
    CycleMetric,
    DeliveryAttempt,
    Event,
    Outbox,
    SourceState,
    WorkerHeartbeat,
    database_proxy,
)

# Dead letters first: they are what an operator opens this screen for.
OUTBOX_STATUS_ORDER = ("dead", "retrying", "pending", "sending", "sent", "discarded")
QUEUED_STATUSES = ("pending", "retrying", "sending")


def _like(text: str) -> str:
    """A LIKE pattern matching `text` literally (its own % and _ escaped with backslash)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _contains(column: peewee.Field, text: str) -> peewee.Expression:
    # Case-insensitive (peewee spells ILIKE as LIKE on SQLite); ESCAPE is spelled out so the
    # pattern means the same on SQLite and PostgreSQL.
    return peewee.Expression(
        column,
        "ILIKE",
        peewee.NodeList(
            # converter=False: a JSON column would otherwise JSON-encode the pattern itself
            (peewee.Value(_like(text), converter=False), peewee.SQL("ESCAPE '\\'"))
        ),
    )


# ---------------------------------------------------------------------------------------- alerts


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """What the operator typed after `/`; every field is a SQL condition (empty: no condition)."""

    text: str = ""  # in the title
    source: str = ""  # in the source key
    rule: str = ""  # a matched rule's exact name
    priority: str = ""  # low | normal | high | critical
    delivery_status: str = ""  # some delivery of the alert has this status

    def is_empty(self) -> bool:
        return not (self.text or self.source or self.rule or self.priority or self.delivery_status)


@dataclass(frozen=True, slots=True)
class AlertRow:
    id: int
    created_at: datetime
    source_key: str
    title: str
    priority: str
    rules: tuple[str, ...]
    deliveries: dict[str, int]  # status -> count
    acknowledged: bool


def _alert_condition(flt: AlertFilter) -> peewee.Expression:
    cond: peewee.Expression = peewee.Value(1) == 1
    if flt.text:
        cond &= _contains(Alert.title, flt.text)
    if flt.source:
        cond &= _contains(Alert.source_key, flt.source)
    if flt.rule:
        # `matched` is JSON written with sort_keys and ", " / ": " separators (JsonField).
        cond &= _contains(Alert.matched, f'"rule": "{flt.rule}"')
    if flt.priority:
        cond &= Alert.priority == flt.priority
    if flt.delivery_status:
        cond &= peewee.fn.EXISTS(
            Outbox.select(peewee.SQL("1")).where(
                (Outbox.alert == Alert.id) & (Outbox.status == flt.delivery_status)
            )
        )
    return cond


def _tuples(query: Any) -> list[tuple[Any, ...]]:
    """Rows of a grouped select as plain tuples (peewee's stubs type them as model instances)."""
    return list(query.tuples())


def _delivery_counts(alert_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = {i: {} for i in alert_ids}
    if not alert_ids:
        return counts
    query = (
        Outbox.select(Outbox.alert, Outbox.status, peewee.fn.COUNT(Outbox.id))
        .where(Outbox.alert.in_(list(alert_ids)))
        .group_by(Outbox.alert, Outbox.status)
    )
    for alert_id, status, n in _tuples(query):
        counts[int(alert_id)][str(status)] = int(n)
    return counts


def _alert_rows(query: Any) -> list[AlertRow]:
    raw: list[Any] = list(
        query.select(
            Alert.id,
            Alert.created_at,
            Alert.source_key,
            Alert.title,
            Alert.priority,
            Alert.matched,
            Alert.acknowledged_at,
        )
    )
    deliveries = _delivery_counts([int(a.id) for a in raw])
    return [
        AlertRow(
            id=int(a.id),
            created_at=a.created_at,
            source_key=a.source_key or "",
            title=a.title,
            priority=a.priority,
            rules=tuple(str(m.get("rule", "")) for m in (a.matched or []) if isinstance(m, dict)),
            deliveries=deliveries[int(a.id)],
            acknowledged=a.acknowledged_at is not None,
        )
        for a in raw
    ]


def alerts_page(
    flt: AlertFilter, *, before_id: int | None = None, limit: int = 100
) -> list[AlertRow]:
    """Newest first; the next page starts below the last id shown."""
    cond = _alert_condition(flt)
    if before_id is not None:
        cond &= Alert.id < before_id
    return _alert_rows(Alert.select().where(cond).order_by(Alert.id.desc()).limit(limit))


def alerts_newer(
    flt: AlertFilter, *, after_id: int, limit: int = 100
) -> tuple[list[AlertRow], int]:
    """Rows newer than the newest shown (newest first, at most `limit`) and how many there are."""
    cond = _alert_condition(flt) & (Alert.id > after_id)
    total = Alert.select(Alert.id).where(cond).count()
    if total == 0:
        return [], 0
    rows = _alert_rows(Alert.select().where(cond).order_by(Alert.id.desc()).limit(limit))
    return rows, int(total)


@dataclass(frozen=True, slots=True)
class AttemptView:
    started_at: datetime
    outcome: str
    http_status: int | None
    error_class: str | None
    message: str | None
    duration_ms: int


@dataclass(frozen=True, slots=True)
class DeliveryTrace:
    outbox_id: int
    channel: str
    target: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    sent_at: datetime | None
    last_error: str | None
    tries: tuple[AttemptView, ...]


@dataclass(frozen=True, slots=True)
class AlertDetail:
    id: int
    title: str
    source_key: str
    priority: str
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    tags: tuple[str, ...]
    matched: tuple[tuple[str, tuple[str, ...]], ...]  # (rule, reasons)
    event_title: str
    event_type: str
    summary: str
    url: str
    details: dict[str, Any]
    fingerprint: str | None
    deliveries: tuple[DeliveryTrace, ...] = field(default=())


def alert_detail(alert_id: int) -> AlertDetail | None:
    """Everything the detail pane shows: the event, why it matched, every target's attempts."""
    alert: Any = Alert.get_or_none(Alert.id == alert_id)
    if alert is None:
        return None
    event = Event.get_or_none(Event.id == alert.event_id) if alert.event_id else None
    boxes = list(Outbox.select().where(Outbox.alert == alert_id).order_by(Outbox.id))
    tries: dict[int, list[AttemptView]] = {int(b.id): [] for b in boxes}
    if boxes:
        attempts = (
            DeliveryAttempt.select()
            .where(DeliveryAttempt.outbox.in_(list(tries)))
            .order_by(DeliveryAttempt.id)
        )
        a: Any
        for a in attempts:
            tries[int(a.outbox_id)].append(
                AttemptView(
                    a.started_at, a.outcome, a.http_status, a.error_class, a.message, a.duration_ms
                )
            )
    matched = tuple(
        (str(m.get("rule", "")), tuple(str(r) for r in m.get("reasons", [])))
        for m in (alert.matched or [])
        if isinstance(m, dict)
    )
    return AlertDetail(
        id=int(alert.id),
        title=alert.title,
        source_key=alert.source_key or "",
        priority=alert.priority,
        created_at=alert.created_at,
        acknowledged_at=alert.acknowledged_at,
        acknowledged_by=alert.acknowledged_by,
        tags=tuple(alert.tags or ()),
        matched=matched,
        event_title=event.title if event else alert.title,
        event_type=event.event_type if event else alert.kind,
        summary=event.summary if event else "",
        url=event.url if event else "",
        details=dict(event.details or {}) if event else dict(alert.payload or {}),
        fingerprint=alert.fingerprint,
        deliveries=tuple(
            DeliveryTrace(
                outbox_id=int(b.id),
                channel=b.channel,
                target=b.target,
                status=b.status,
                attempts=b.attempts,
                next_attempt_at=b.next_attempt_at,
                sent_at=b.sent_at,
                last_error=b.last_error,
                tries=tuple(tries[int(b.id)]),
            )
            for b in boxes
        ),
    )


# ---------------------------------------------------------------------------------------- outbox


@dataclass(frozen=True, slots=True)
class OutboxFilter:
    status: str = ""  # one status, or empty for all (dead letters first)
    source: str = ""  # in the alert's source key
    channel: str = ""  # the channel's exact name
    text: str = ""  # in the last error or the target

    def is_empty(self) -> bool:
        return not (self.status or self.source or self.channel or self.text)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    status: str
    channel: str
    target: str
    attempts: int
    next_attempt_at: datetime | None
    updated_at: datetime
    last_error: str | None
    alert_id: int
    alert_title: str
    source_key: str


@dataclass(frozen=True, slots=True)
class OutboxPosition:
    """Where the next page starts: a status group (in OUTBOX_STATUS_ORDER) and an id below."""

    status_index: int = 0
    before_id: int | None = None


def outbox_condition(flt: OutboxFilter, *, max_id: int | None = None) -> peewee.Expression:
    """The filter as SQL; `max_id` is a bulk action's ceiling (rows newer than the preview)."""
    cond: peewee.Expression = peewee.Value(1) == 1
    if flt.status:
        cond &= Outbox.status == flt.status
    if flt.channel:
        cond &= Outbox.channel == flt.channel
    if flt.text:
        cond &= _contains(Outbox.last_error, flt.text) | _contains(Outbox.target, flt.text)
    if flt.source:
        cond &= Outbox.alert.in_(
            Alert.select(Alert.id).where(_contains(Alert.source_key, flt.source))
        )
    if max_id is not None:
        cond &= Outbox.id <= max_id
    return cond


def _outbox_rows(query: Any) -> list[OutboxRow]:
    rows: Any = query.select(
        Outbox.id,
        Outbox.status,
        Outbox.channel,
        Outbox.target,
        Outbox.attempts,
        Outbox.next_attempt_at,
        Outbox.updated_at,
        Outbox.last_error,
        Alert.id,
        Alert.title,
        Alert.source_key,
    ).join(Alert, on=(Outbox.alert == Alert.id))
    return [
        OutboxRow(
            id=int(r.id),
            status=r.status,
            channel=r.channel,
            target=r.target,
            attempts=r.attempts,
            next_attempt_at=r.next_attempt_at,
            updated_at=r.updated_at,
            last_error=r.last_error,
            alert_id=int(r.alert.id),
            alert_title=r.alert.title,
            source_key=r.alert.source_key or "",
        )
        for r in rows
    ]


def outbox_page(
    flt: OutboxFilter, *, start: OutboxPosition | None = None, limit: int = 100
) -> tuple[list[OutboxRow], OutboxPosition | None]:
    """One page in status order (dead first), newest first within a status; and where to go on.

    Each status group is its own keyset query, so a page never sorts the whole table.
    """
    position = start or OutboxPosition()
    statuses = (flt.status,) if flt.status else OUTBOX_STATUS_ORDER
    rows: list[OutboxRow] = []
    index, before = position.status_index, position.before_id
    while index < len(statuses) and len(rows) < limit:
        cond = outbox_condition(flt) & (Outbox.status == statuses[index])
        if before is not None:
            cond &= Outbox.id < before
        got = _outbox_rows(
            Outbox.select().where(cond).order_by(Outbox.id.desc()).limit(limit - len(rows))
        )
        rows.extend(got)
        if len(rows) < limit:
            index, before = index + 1, None
        else:
            before = got[-1].id
    if index >= len(statuses):
        return rows, None
    return rows, OutboxPosition(index, before)


def count_outbox(flt: OutboxFilter, *, max_id: int | None = None) -> int:
    return int(Outbox.select(Outbox.id).where(outbox_condition(flt, max_id=max_id)).count())


def outbox_ceiling() -> int:
    """The highest outbox id now: a bulk action's preview freezes its selection below it."""
    return int(Outbox.select(peewee.fn.MAX(Outbox.id)).scalar() or 0)


def outbox_status_counts() -> dict[str, int]:
    query = Outbox.select(Outbox.status, peewee.fn.COUNT(Outbox.id)).group_by(Outbox.status)
    return {str(s): int(n) for s, n in _tuples(query)}


# --------------------------------------------------------------------------------------- sources


@dataclass(frozen=True, slots=True)
class SourceRow:
    key: str
    plugin: str
    health: str
    health_detail: str | None
    last_poll_at: datetime | None
    last_success_at: datetime | None
    next_poll_at: datetime | None
    last_error: str | None
    consecutive_failures: int
    cursor: dict[str, Any] | None
    ratelimit_remaining: int | None
    ratelimit_reset_at: datetime | None
    deferred_until: datetime | None
    poll_requested_at: datetime | None


def source_rows() -> list[SourceRow]:
    return [
        SourceRow(
            key=s.source_key,
            plugin=s.source,
            health=s.health,
            health_detail=s.health_detail,
            last_poll_at=s.last_poll_at,
            last_success_at=s.last_success_at,
            next_poll_at=s.next_poll_at,
            last_error=s.last_error,
            consecutive_failures=s.consecutive_failures,
            cursor=s.cursor,
            ratelimit_remaining=s.ratelimit_remaining,
            ratelimit_reset_at=s.ratelimit_reset_at,
            deferred_until=s.deferred_until,
            poll_requested_at=s.poll_requested_at,
        )
        for s in SourceState.select().order_by(SourceState.source_key)
    ]


# ---------------------------------------------------------------------------------- console head


@dataclass(frozen=True, slots=True)
class ConsoleStatus:
    data_at: datetime | None  # the newest poll any source made
    heartbeat_at: datetime | None  # the newest heartbeat of any worker
    worker_stopped: bool  # the newest worker said goodbye
    newest_alert_id: int


def console_status() -> ConsoleStatus:
    beat = WorkerHeartbeat.select().order_by(WorkerHeartbeat.heartbeat_at.desc()).first()
    data_at = SourceState.select(peewee.fn.MAX(SourceState.last_poll_at)).scalar()
    newest = Alert.select(peewee.fn.MAX(Alert.id)).scalar()
    if isinstance(data_at, str):  # an aggregate bypasses the field's converter on SQLite
        data_at = SourceState.last_poll_at.python_value(data_at)
    return ConsoleStatus(
        data_at=data_at,
        heartbeat_at=beat.heartbeat_at if beat else None,
        worker_stopped=bool(beat and beat.stopped_at is not None),
        newest_alert_id=int(newest or 0),
    )


# --------------------------------------------------------------------------------------- metrics


@dataclass(frozen=True, slots=True)
class Figures:
    """One row of the metrics screen: a source (or "all") over one window."""

    events: int = 0
    matches: int = 0
    alerts: int = 0
    deliveries_ok: int = 0
    deliveries_failed: int = 0


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


ALL = "*"  # the per_source key of the overall figures in internal grouping


def _bucket(column: peewee.Field, since: datetime, seconds: int) -> peewee.Node:
    """The bucket number of `column` since `since`, in SQL (SQLite or PostgreSQL)."""
    if isinstance(database_proxy.obj, peewee.SqliteDatabase):
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
    for b, n in _tuples(query.select(bucket, total).group_by(bucket)):
        if b is not None and 0 <= int(b) < buckets:
            values[int(b)] += int(n or 0)
    return values


def metrics_report(now: datetime, window: timedelta, *, buckets: int = 24) -> MetricsReport:
    """Events, matches, alerts, deliveries (ok/failed) over `window` up to `now`, per source and
    overall, the queue as it stands, and per-bucket series for the sparklines."""
    since = now - window
    seconds = max(1, int(window.total_seconds() // buckets))
    per: dict[str, dict[str, int]] = {}

    def add(key: str, name: str, n: Any) -> None:
        per.setdefault(key, {})[name] = per.get(key, {}).get(name, 0) + int(n or 0)

    cycles: Any = CycleMetric.select().where(
        (CycleMetric.started_at >= since) & (CycleMetric.started_at <= now)
    )
    for key, ev, ma in _tuples(
        cycles.select(
            CycleMetric.source_key,
            peewee.fn.SUM(CycleMetric.new_events),
            peewee.fn.SUM(CycleMetric.matched),
        ).group_by(CycleMetric.source_key)
    ):
        add(key, "events", ev)
        add(key, "matches", ma)
    alerts: Any = Alert.select().where((Alert.created_at >= since) & (Alert.created_at <= now))
    for key, n in _tuples(
        alerts.select(Alert.source_key, peewee.fn.COUNT(Alert.id)).group_by(Alert.source_key)
    ):
        add(key or "", "alerts", n)
    tries: Any = (
        DeliveryAttempt.select()
        .join(Outbox, on=(DeliveryAttempt.outbox == Outbox.id))
        .join(Alert, on=(Outbox.alert == Alert.id))
        .where((DeliveryAttempt.started_at >= since) & (DeliveryAttempt.started_at <= now))
    )
    ok = peewee.fn.SUM(peewee.Case(None, ((DeliveryAttempt.outcome == "sent", 1),), 0))
    failed = peewee.fn.SUM(peewee.Case(None, ((DeliveryAttempt.outcome != "sent", 1),), 0))
    for key, n_ok, n_failed in _tuples(
        tries.select(Alert.source_key, ok, failed).group_by(Alert.source_key)
    ):
        add(key or "", "deliveries_ok", n_ok)
        add(key or "", "deliveries_failed", n_failed)

    per_source = {k: Figures(**v) for k, v in sorted(per.items())}
    overall = Figures(
        **{
            name: sum(getattr(f, name) for f in per_source.values())
            for name in ("events", "matches", "alerts", "deliveries_ok", "deliveries_failed")
        }
    )
    queue, queue_per_source = _queue_figures()
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
    return MetricsReport(since, overall, per_source, queue, queue_per_source, series)


def _queue_figures() -> tuple[QueueFigures, dict[str, QueueFigures]]:
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
    for key, depth, first, n_dead in _tuples(query):
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

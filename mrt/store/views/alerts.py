"""Alert lists (keyset pages, "newer than", SQL filters) and one alert's full detail."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import peewee

from mrt.plugins import detail_facts
from mrt.store.models import Alert, DeliveryAttempt, Event, Outbox
from mrt.store.trace import channel_problems, missing_channels
from mrt.store.views._sql import contains, tuples
from mrt.store.views.ai import ai_lines

# v0's alerts were sent by v0: they never had an outbox row here, and that is not a gap.
NEVER_QUEUED_KINDS = ("v0",)


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """What the operator typed after `/`; every field is a SQL condition (empty: no condition)."""

    text: str = ""  # in the title
    source: str = ""  # in the source key
    rule: str = ""  # a matched rule's exact name
    priority: str = ""  # low | normal | high | critical
    delivery_status: str = ""  # some delivery of the alert has this status; "none": no delivery
    acknowledged: str = ""  # "yes": acknowledged ones only; "no": not acknowledged yet

    def is_empty(self) -> bool:
        return not (
            self.text
            or self.source
            or self.rule
            or self.priority
            or self.delivery_status
            or self.acknowledged
        )


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
    undelivered: bool = False  # no outbox row at all: the alert went to no one
    kind: str = ""  # "replay": re-sent by a replay (its list row and detail say so)
    event_at: datetime | None = None  # a replay's event, when MRT first observed it


def _alert_condition(flt: AlertFilter) -> peewee.Expression:
    cond: peewee.Expression = peewee.Value(1) == 1
    if flt.text:
        cond &= contains(Alert.title, flt.text)
    if flt.source:
        cond &= contains(Alert.source_key, flt.source)
    if flt.rule:
        # `matched` is JSON written with sort_keys and ", " / ": " separators (JsonField).
        cond &= contains(Alert.matched, f'"rule": "{flt.rule}"')
    if flt.priority:
        cond &= Alert.priority == flt.priority
    if flt.acknowledged == "yes":
        cond &= Alert.acknowledged_at.is_null(False)
    elif flt.acknowledged == "no":
        cond &= Alert.acknowledged_at.is_null()
    if flt.delivery_status == "none":
        cond &= went_to_no_one()
    elif flt.delivery_status:
        cond &= peewee.fn.EXISTS(
            Outbox.select(peewee.SQL("1")).where(
                (Outbox.alert == Alert.id) & (Outbox.status == flt.delivery_status)
            )
        )
    return cond


def went_to_no_one() -> peewee.Expression:
    """The alert has no outbox row at all: no delivery was ever made for it.

    It happens when the rules name a channel the config lacks, a reload dropped a channel, or
    every channel of an aggregate failed to render; the alert is kept, and must not be silent.
    """
    any_delivery = Outbox.select(peewee.SQL("1")).where(Outbox.alert == Alert.id)
    cond: peewee.Expression = ~peewee.fn.EXISTS(any_delivery) & Alert.kind.not_in(
        NEVER_QUEUED_KINDS
    )
    return cond


def undelivered_alerts(*, since: datetime | None = None, limit: int = 5) -> tuple[int, list[int]]:
    """How many alerts (made since `since`, or ever) went to no one, and the newest `limit` ids."""
    cond = went_to_no_one()
    if since is not None:
        cond &= Alert.created_at >= since
    count = int(Alert.select(Alert.id).where(cond).count())
    if count == 0 or limit < 1:
        return count, []
    newest = Alert.select(Alert.id).where(cond).order_by(Alert.id.desc()).limit(limit)
    return count, [int(a.id) for a in newest]


def _delivery_counts(alert_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = {i: {} for i in alert_ids}
    if not alert_ids:
        return counts
    query = (
        Outbox.select(Outbox.alert, Outbox.status, peewee.fn.COUNT(Outbox.id))
        .where(Outbox.alert.in_(list(alert_ids)))
        .group_by(Outbox.alert, Outbox.status)
    )
    for alert_id, status, n in tuples(query):
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
            Alert.kind,
            Alert.event,
        )
    )
    deliveries = _delivery_counts([int(a.id) for a in raw])
    # A replay is listed at its event's time (when it happened), not when it was re-sent.
    replayed = [int(a.event_id) for a in raw if a.kind == "replay" and a.event_id]
    observed: dict[int, datetime] = {}
    if replayed:
        query = Event.select(Event.id, Event.observed_at).where(Event.id.in_(replayed))
        observed = {int(e.id): e.observed_at for e in query}
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
            undelivered=not deliveries[int(a.id)] and a.kind not in NEVER_QUEUED_KINDS,
            kind=a.kind or "",
            event_at=observed.get(int(a.event_id)) if a.event_id else None,
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


def alerts_by_id(alert_ids: Sequence[int]) -> list[AlertRow]:
    """The rows on screen as they are now (a live pane re-reads what it shows)."""
    if not alert_ids:
        return []
    return _alert_rows(Alert.select().where(Alert.id.in_(list(alert_ids))))


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
    kind: str
    event_title: str
    event_type: str
    summary: str
    url: str
    details: dict[str, Any]
    fingerprint: str | None
    deliveries: tuple[DeliveryTrace, ...] = field(default=())
    missing_channels: tuple[str, ...] = ()  # named by the rules, not configured: not sent there
    went_to_no_one: bool = False  # no outbox row at all (and not v0's)
    channel_problems: dict[str, str] = field(default_factory=dict)  # channel -> why no row
    undelivered: str | None = None  # why it went to no one, in words (mrt.ops.explain fills it)
    facts: tuple[tuple[str, str], ...] = ()  # (label, value): the details its source names
    event_observed_at: datetime | None = None  # when MRT first saw the event (a replay's age)
    ai: tuple[tuple[str, str], ...] = ()  # (label, text): summary, triage, cluster (views.ai)


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
        kind=alert.kind or "",
        event_observed_at=event.observed_at if event else None,
        event_title=event.title if event else alert.title,
        event_type=event.event_type if event else alert.kind,
        summary=event.summary if event else "",
        url=event.url if event else "",
        details=dict(event.details or {}) if event else dict(alert.payload or {}),
        fingerprint=alert.fingerprint,
        facts=tuple(
            detail_facts(event.source, event.event_type, event.details or {}) if event else ()
        ),
        missing_channels=tuple(missing_channels(alert, event)),
        ai=ai_lines(event),
        went_to_no_one=not boxes and alert.kind not in NEVER_QUEUED_KINDS,
        channel_problems=channel_problems(alert),
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

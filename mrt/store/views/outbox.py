"""Outbox lists in status order (dead letters first), counts, and bulk-action ceilings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import peewee

from mrt.store.models import Alert, DeliveryAttempt, Outbox
from mrt.store.outbox_records import STATUSES, as_tuples, as_utc_datetime
from mrt.store.views._sql import contains, tuples
from mrt.store.views.alerts import AttemptView

# Dead letters first: they are what an operator opens this screen for.
OUTBOX_STATUS_ORDER = ("dead", "retrying", "pending", "sending", "sent", "discarded")
QUEUED_STATUSES = ("pending", "retrying", "sending")


@dataclass(frozen=True, slots=True)
class OutboxFilter:
    """Which deliveries: the console's list, `mrt outbox`'s bulk retry and mrt.ops.outbox's
    bulk actions all take this one type (every given field must match; empty means any)."""

    status: str = ""  # one status, or empty for all (dead letters first)
    source: str = ""  # the alert's exact source key (as `mrt outbox --source` takes it)
    channel: str = ""  # the channel's exact name
    text: str = ""  # in the last error or the target
    alert: str = ""  # one alert's deliveries (its id, as digits)

    def is_empty(self) -> bool:
        return not (self.status or self.source or self.channel or self.text or self.alert)

    def as_params(self) -> dict[str, str]:
        """The given fields, as the audit log records a bulk action's filter."""
        named = (("status", self.status), ("channel", self.channel),
                 ("source_key", self.source), ("text", self.text), ("alert_id", self.alert))
        return {k: v for k, v in named if v}


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One delivery as `mrt outbox` and the console's deliveries screen show it."""

    id: int
    alert_id: int
    channel: str
    target: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    subject: str
    source_key: str
    fingerprint: str | None
    alert_title: str


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
        cond &= contains(Outbox.last_error, flt.text) | contains(Outbox.target, flt.text)
    if flt.source:
        cond &= Outbox.alert.in_(Alert.select(Alert.id).where(Alert.source_key == flt.source))
    if flt.alert.isdigit():
        cond &= Outbox.alert == int(flt.alert)
    if max_id is not None:
        cond &= Outbox.id <= max_id
    return cond


def _outbox_rows(query: Any) -> list[OutboxRow]:
    rows: Any = query.select(Outbox, Alert.id, Alert.title, Alert.source_key, Alert.fingerprint).join(
        Alert, on=(Outbox.alert == Alert.id)
    )
    return [outbox_row(r) for r in rows]


def outbox_row(r: Any) -> OutboxRow:
    """An Outbox row selected with its alert's id, title, source key and fingerprint."""
    return OutboxRow(
        id=int(r.id),
        alert_id=int(r.alert.id),
        channel=r.channel,
        target=r.target,
        status=r.status,
        attempts=int(r.attempts),
        next_attempt_at=r.next_attempt_at,
        last_error=r.last_error,
        created_at=r.created_at,
        updated_at=r.updated_at,
        sent_at=r.sent_at,
        lease_owner=r.lease_owner,
        lease_expires_at=r.lease_expires_at,
        subject=r.subject,
        source_key=r.alert.source_key or "",
        fingerprint=r.alert.fingerprint,
        alert_title=r.alert.title,
    )


def outbox_by_id(outbox_ids: Sequence[int]) -> list[OutboxRow]:
    """The rows on screen as they are now (a live pane re-reads what it shows)."""
    if not outbox_ids:
        return []
    return _outbox_rows(Outbox.select().where(Outbox.id.in_(list(outbox_ids))))


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
    return {str(s): int(n) for s, n in tuples(query)}


def _with_alert() -> peewee.ModelSelect[Outbox]:
    return Outbox.select(Outbox, Alert.id, Alert.title, Alert.source_key, Alert.fingerprint).join(
        Alert, on=(Outbox.alert == Alert.id)
    )


def list_outbox(
    status: str | None = None,
    channel: str | None = None,
    source_key: str | None = None,
    after_id: int | None = None,
    limit: int = 50,
) -> list[OutboxRow]:
    """One page of deliveries, newest first; without a status filter dead letters come first.

    Keyset pagination: pass the last row's id as `after_id` for the next page. In the default
    order the page boundary also remembers whether that row was dead (read from the row).
    """
    query = _with_alert()
    if status is not None:
        query = query.where(Outbox.status == status)
    if channel is not None:
        query = query.where(Outbox.channel == channel)
    if source_key is not None:
        query = query.where(Alert.source_key == source_key)
    if status is None:
        rank = peewee.Case(None, [(Outbox.status == "dead", 0)], 1)
        if after_id is not None:
            last = Outbox.get_or_none(Outbox.id == after_id)
            last_rank = 0 if last is not None and last.status == "dead" else 1
            query = query.where((rank > last_rank) | ((rank == last_rank) & (Outbox.id < after_id)))
        query = query.order_by(rank, Outbox.id.desc())
    else:
        if after_id is not None:
            query = query.where(Outbox.id < after_id)
        query = query.order_by(Outbox.id.desc())
    return [outbox_row(r) for r in query.limit(limit)]


def get_outbox_rows(ids: Sequence[int]) -> dict[int, OutboxRow]:
    query = _with_alert().where(Outbox.id.in_([int(i) for i in ids]))
    return {int(r.id): outbox_row(r) for r in query}


def counts_by_status() -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    query = Outbox.select(Outbox.status, peewee.fn.COUNT(Outbox.id).alias("n")).group_by(
        Outbox.status
    )
    for status, n in as_tuples(query):
        counts[str(status)] = int(n)
    return counts


def oldest_pending_age_seconds(now: datetime) -> float | None:
    """Age of the oldest delivery still on its way (pending, sending, retrying), or None."""
    oldest = as_utc_datetime(
        Outbox.select(peewee.fn.MIN(Outbox.created_at))
        .where(Outbox.status.in_(("pending", "sending", "retrying")))
        .scalar()
    )
    if oldest is None:
        return None
    return max(0.0, (now - oldest).total_seconds())


def delivery_attempts(outbox_id: int) -> list[AttemptView]:
    """Every attempt of one delivery, oldest first (what the deliveries screen's detail lists)."""
    query: Any = (
        DeliveryAttempt.select()
        .where(DeliveryAttempt.outbox == outbox_id)
        .order_by(DeliveryAttempt.id)
    )
    return [
        AttemptView(a.started_at, a.outcome, a.http_status, a.error_class, a.message, a.duration_ms)
        for a in query
    ]

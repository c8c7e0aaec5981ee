"""Operator side of the outbox: listing, counts, retry and discard (every action audited)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import peewee

from mrt.store.db import bound_database, write_transaction
from mrt.store.models import Alert, AuditLog, Outbox
from mrt.store.outbox_records import (
    DISCARDABLE,
    RETRYABLE,
    STATUSES,
    OutboxFilter,
    OutboxRow,
    as_tuples,
    as_utc_datetime,
    fk_id,
)


def _select_for(
    selection: Sequence[int] | OutboxFilter, statuses: Sequence[str], max_id: int | None
) -> peewee.ModelSelect[Outbox]:
    query = Outbox.select(Outbox.id).where(Outbox.status.in_(list(statuses)))
    if isinstance(selection, OutboxFilter):
        if selection.status is not None:
            query = query.where(Outbox.status == selection.status)
        if selection.channel is not None:
            query = query.where(Outbox.channel == selection.channel)
        if selection.source_key is not None:
            query = query.join(Alert).where(Alert.source_key == selection.source_key)
    else:
        query = query.where(Outbox.id.in_([int(i) for i in selection]))
    if max_id is not None:
        query = query.where(Outbox.id <= max_id)
    return query


def preview(
    selection: Sequence[int] | OutboxFilter, *, action: str = "retry"
) -> tuple[int, int | None]:
    """How many rows `retry`/`discard` would touch now, and the id ceiling to pass them."""
    statuses = RETRYABLE if action == "retry" else DISCARDABLE
    ids = [int(r.id) for r in _select_for(selection, statuses, None)]
    return len(ids), (max(ids) if ids else None)


def retry(
    selection: Sequence[int] | OutboxFilter,
    *,
    now: datetime,
    max_id: int | None = None,
    actor: str = "cli",
    reason: str | None = None,
) -> int:
    """Operator: dead/retrying rows become pending and due now (attempts kept); audited."""
    return _operate(selection, "retry", now=now, max_id=max_id, actor=actor, reason=reason)


def discard(
    selection: Sequence[int] | OutboxFilter,
    now: datetime,
    *,
    max_id: int | None = None,
    actor: str = "cli",
    reason: str | None = None,
) -> int:
    """Operator: unsent rows (not in flight) become discarded and are never sent; audited."""
    return _operate(selection, "discard", now=now, max_id=max_id, actor=actor, reason=reason)


def _operate(
    selection: Sequence[int] | OutboxFilter,
    action: str,
    *,
    now: datetime,
    max_id: int | None,
    actor: str,
    reason: str | None,
) -> int:
    statuses = RETRYABLE if action == "retry" else DISCARDABLE
    with write_transaction(bound_database()):
        ids = [int(r.id) for r in _select_for(selection, statuses, max_id)]
        if ids:
            fields: dict[str, Any] = {"updated_at": now}
            if action == "retry":
                fields.update(status="pending", next_attempt_at=now)
            else:
                fields.update(status="discarded",
                              last_error=f"discarded by {actor}" + (f": {reason}" if reason else ""))
            Outbox.update(**fields).where(
                Outbox.id.in_(ids) & Outbox.status.in_(list(statuses))
            ).execute()
        params: dict[str, Any] = {"max_id": max_id}
        if isinstance(selection, OutboxFilter):
            params["filter"] = selection.as_dict()
        else:
            params["ids"] = [int(i) for i in selection]
        AuditLog.create(
            at=now, actor=actor, action=f"outbox.{action}", params=params, reason=reason,
            result={"count": len(ids), "ids": ids[:1000]},
        )
    return len(ids)


def _row(row: Outbox) -> OutboxRow:
    alert = row.alert
    return OutboxRow(
        id=int(row.id), alert_id=int(fk_id(row, "alert") or 0), channel=row.channel, target=row.target,
        status=row.status, attempts=int(row.attempts), next_attempt_at=row.next_attempt_at,
        last_error=row.last_error, created_at=row.created_at, updated_at=row.updated_at,
        sent_at=row.sent_at, lease_owner=row.lease_owner, lease_expires_at=row.lease_expires_at,
        subject=row.subject, source_key=alert.source_key, fingerprint=alert.fingerprint,
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
    query = Outbox.select(Outbox, Alert).join(Alert)
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
    return [_row(r) for r in query.limit(limit)]


def get_outbox_rows(ids: Sequence[int]) -> dict[int, OutboxRow]:
    query = Outbox.select(Outbox, Alert).join(Alert).where(Outbox.id.in_([int(i) for i in ids]))
    return {int(r.id): _row(r) for r in query}


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

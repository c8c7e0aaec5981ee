"""The outbox: one row per (alert, delivery target), and the state machine that moves it.

    pending -> sending -> sent
                      -> retrying -> sending ... -> dead   (max attempts, max age, permanent)
    pending | retrying | dead -> discarded                 (operator's choice)
    dead | retrying -> pending                             (operator's retry, attempts kept)

A sender claims due rows with a lease (owner, expiry) in one write transaction, so two senders
never send one row, and a crashed sender's rows come back once the lease expires. Every status
change after a claim checks the lease owner: a slow sender whose row was re-claimed by another
changes nothing (its mark_* returns LEASE_LOST). Every try is a DeliveryAttempt row.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import Any

import peewee

from mrt.events import utcnow
from mrt.message import Message
from mrt.retry import RetryPolicy
from mrt.store.db import bound_database, is_sqlite, write_transaction
from mrt.store.models import DeliveryAttempt, Outbox
from mrt.store.outbox_due import due, first_due_per_target
from mrt.store.outbox_fold import settle_folded
from mrt.store.outbox_lease import lease_many, lease_row
from mrt.store.outbox_records import (
    DISCARDABLE,
    LEASE_LOST,
    RETRYABLE,
    STATUSES,
    AttemptRecord,
    ClaimedDelivery,
    as_tuples,
    as_utc_datetime,
    describe_failure,
    redact_common_secrets,
)

# The outbox's machinery is importable from here; the record types live in outbox_records.py to
# keep each module small. The operator's side (list, retry, discard) is mrt.ops.outbox.
__all__ = [
    "DISCARDABLE",
    "LEASE_LOST",
    "RETRYABLE",
    "STATUSES",
    "AttemptRecord",
    "ClaimedDelivery",
    "claim_due",
    "count_due",
    "describe_failure",
    "enqueue",
    "enqueue_new_alert",
    "last_attempt_by_target",
    "lease_many",
    "lease_row",
    "mark_failed",
    "mark_sent",
    "redact_common_secrets",
    "release",
]


def enqueue(alert_id: int, channel: str, target_key: str, message: Message, now: datetime) -> int:
    """Add one delivery; call inside the cycle's transaction. Idempotent per (alert, target)."""
    existing = Outbox.get_or_none(
        (Outbox.alert == alert_id) & (Outbox.channel == channel) & (Outbox.target == target_key)
    )
    if existing is not None:
        return int(existing.id)
    row = Outbox.create(
        alert=alert_id,
        channel=channel,
        target=target_key,
        status="pending",
        subject=message.subject,
        body=message.body,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    return int(row.id)


def enqueue_new_alert(
    alert_id: int, deliveries: Iterable[tuple[str, str, Message]], now: datetime
) -> int:
    """All deliveries of an alert created in this transaction (it has none yet): one statement.

    A (channel, target) named twice is enqueued once. Returns how many rows were added.
    """
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for channel, target, message in deliveries:
        rows.setdefault(
            (channel, target),
            {
                "alert": alert_id,
                "channel": channel,
                "target": target,
                "status": "pending",
                "subject": message.subject,
                "body": message.body,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            },
        )
    values = list(rows.values())
    for start in range(0, len(values), 50):
        Outbox.insert_many(values[start : start + 50]).execute()
    return len(values)


def claim_due(
    owner: str,
    now: datetime,
    *,
    limit: int,
    lease_seconds: int,
    exclude_targets: Collection[str] = (),
    one_per_target: bool = False,
    policy: RetryPolicy | None = None,
) -> list[ClaimedDelivery]:
    """Lease up to `limit` due rows to `owner` (oldest due first) and mark them sending.

    Due: pending/retrying with next_attempt_at <= now, or sending with an expired lease (its
    sender crashed or stalled mid-send: that try is counted and recorded as `lease_expired`,
    and with `policy` such a row past its limits goes dead instead of being sent again).
    `one_per_target` claims at most one row per target, which per-target spacing needs.
    """
    if limit <= 0:
        return []
    db = bound_database()
    claimed: list[ClaimedDelivery] = []
    expires = now + timedelta(seconds=lease_seconds)
    with write_transaction(db):
        query = Outbox.select().where(due(now))
        if exclude_targets:
            query = query.where(Outbox.target.not_in(list(exclude_targets)))
        if one_per_target:
            # The oldest due row of each target (FIFO per target), targets by earliest due:
            # a few index seeks per target, whatever the backlog (see outbox_due.py).
            firsts = first_due_per_target(now, exclude_targets=exclude_targets, limit=limit)
            query = query.where(Outbox.id.in_([f.outbox_id for f in firsts]))
        query = query.order_by(Outbox.next_attempt_at, Outbox.id).limit(limit)
        if not is_sqlite(db):
            # PostgreSQL: concurrent claimers skip each other's rows instead of waiting.
            # (SQLite needs nothing: BEGIN IMMEDIATE lets one writer in at a time.)
            query = query.for_update(skip_locked=True)
        seen_targets: set[str] = set()  # the same target twice only when not one_per_target
        for row in query:
            if one_per_target and row.target in seen_targets:
                continue
            lease = lease_row(row, owner, now, expires, policy)
            if lease is None:
                continue
            seen_targets.add(row.target)
            claimed.append(lease)
    return claimed


def count_due(now: datetime) -> int:
    """Rows a sender could claim at `now` (ignoring target spacing)."""
    return int(Outbox.select().where(due(now)).count())


def _held(outbox_id: int, owner: str) -> peewee.Expression:
    return (Outbox.id == outbox_id) & (Outbox.status == "sending") & (Outbox.lease_owner == owner)


def _record_lost(outbox_id: int, attempt: AttemptRecord, what: str) -> str:
    """The send happened (a possible duplicate), so it is recorded; the row is left alone."""
    row = Outbox.get_or_none(Outbox.id == outbox_id)
    if row is None:
        return LEASE_LOST  # the row is gone (its alert was pruned): nothing to attach a note to
    now_held = f" by sender {row.lease_owner}" if row.status == "sending" else ""
    DeliveryAttempt.create(
        outbox=outbox_id,
        started_at=attempt.started_at,
        duration_ms=attempt.duration_ms,
        outcome=LEASE_LOST,
        http_status=attempt.http_status,
        vendor_code=attempt.vendor_code,
        error_class=attempt.error_class,
        message=redact_common_secrets(
            f"{what} after this sender's lease had been lost; the row is {row.status}{now_held}"
            " and was left as it is" + (f" ({attempt.message})" if attempt.message else "")
        ),
    )
    return LEASE_LOST


def mark_sent(
    outbox_id: int, owner: str, now: datetime, attempt: AttemptRecord, *, carried: bool = True
) -> str:
    """Record a successful try: "sent", or LEASE_LOST when `owner` no longer holds the row.
    `carried=False`: the row's message carried no folded rows (saves looking for them)."""
    with write_transaction(bound_database()):
        updated = (
            Outbox.update(
                status="sent",
                attempts=Outbox.attempts + 1,
                sent_at=now,
                updated_at=now,
                lease_owner=None,
                lease_expires_at=None,
                last_error=None,
            )
            .where(_held(outbox_id, owner))
            .execute()
        )
        if updated != 1:
            return _record_lost(outbox_id, attempt, "sent")
        _record(outbox_id, attempt, "sent")
        if carried:
            settle_folded(outbox_id, owner, now, attempt, sent=True)
    return "sent"


def mark_failed(
    outbox_id: int,
    owner: str,
    now: datetime,
    attempt: AttemptRecord,
    *,
    retryable: bool,
    retry_after: float | None,
    policy: RetryPolicy,
    carried: bool = True,
) -> str:
    """Record a failed try; returns the new status ("retrying" | "dead") or LEASE_LOST."""
    with write_transaction(bound_database()):
        row = Outbox.get_or_none(_held(outbox_id, owner))
        if row is None:
            return _record_lost(outbox_id, attempt, "failed")
        # A throttle answer is the target's budget speaking, not a failed try: it never counts
        # toward max_attempts (the age limit still holds).
        attempts = int(row.attempts) + (0 if attempt.throttled else 1)
        age = (now - row.created_at).total_seconds()
        error = describe_failure(attempt)
        gave_up = policy.gives_up(
            attempts=0 if attempt.throttled else attempts, age_seconds=age, retryable=retryable
        )
        fields: dict[str, Any] = {
            "attempts": attempts,
            "updated_at": now,
            "lease_owner": None,
            "lease_expires_at": None,
        }
        if gave_up:
            status = "dead"
            fields.update(status=status, last_error=f"{error} ({gave_up})")
            outcome = "dead"
        else:
            status = "retrying"
            if attempt.throttled:  # the budget (or the target's Retry-After) paces it, no backoff
                delay = retry_after if retry_after else policy.backoff_ceiling(1)
            else:
                delay = policy.retry_delay_seconds(attempts, retry_after)
            fields.update(
                status=status, last_error=error, next_attempt_at=now + timedelta(seconds=delay)
            )
            outcome = "throttled" if attempt.throttled else "retry"
        Outbox.update(**fields).where(Outbox.id == outbox_id).execute()
        _record(outbox_id, attempt, outcome)
        if carried:
            settle_folded(outbox_id, owner, now, attempt, sent=False)
    return status


def _record(outbox_id: int, attempt: AttemptRecord, outcome: str) -> None:
    DeliveryAttempt.create(
        outbox=outbox_id,
        started_at=attempt.started_at,
        duration_ms=attempt.duration_ms,
        outcome=outcome,
        http_status=attempt.http_status,
        vendor_code=attempt.vendor_code,
        error_class=attempt.error_class,
        message=redact_common_secrets(attempt.message) if attempt.message else None,
    )


def release(
    owner: str, now: datetime | None = None, only: Collection[int] | None = None
) -> int:
    """Graceful shutdown: give back this owner's unfinished leases; they are due again at once.
    `only`: just these rows (the rest of a run its sender will not send: sender.py)."""
    when = now if now is not None else utcnow()
    held = (Outbox.status == "sending") & (Outbox.lease_owner == owner)
    if only is not None:
        if not only:
            return 0
        held &= Outbox.id.in_(list(only))
    with write_transaction(bound_database()):
        back_to = peewee.Case(None, [(Outbox.attempts == 0, "pending")], "retrying")
        return int(
            Outbox.update(
                status=back_to, lease_owner=None, lease_expires_at=None, updated_at=when,
                folded_into=None,
            )
            .where(held)
            .execute()
        )


def last_attempt_by_target() -> dict[str, datetime]:
    """When each target was last tried: a restarted sender keeps spacing from there."""
    query = (
        Outbox.select(Outbox.target, peewee.fn.MAX(DeliveryAttempt.started_at).alias("last"))
        .join(DeliveryAttempt)
        .group_by(Outbox.target)
    )
    result: dict[str, datetime] = {}
    for target, last in as_tuples(query):
        when = as_utc_datetime(last)
        if when is not None:
            result[str(target)] = when
    return result

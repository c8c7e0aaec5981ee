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
from mrt.store.models import Alert, DeliveryAttempt, Event, Outbox
from mrt.store.outbox_due import due, first_due_per_target
from mrt.store.outbox_fold import settle_folded
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
    fk_id,
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


def lease_row(
    row: Outbox,
    owner: str,
    now: datetime,
    expires: datetime,
    policy: RetryPolicy | None,
    *,
    folded_into: int | None = None,
) -> ClaimedDelivery | None:
    """Mark one due row `sending` for `owner` (inside the claim's transaction); None when it
    was taken back from a crashed sender and is dead now, or changed under us."""
    if row.status == "sending" and not _take_back_abandoned(row, now, policy):
        return None
    updated = (
        Outbox.update(
            status="sending", lease_owner=owner, lease_expires_at=expires, updated_at=now,
            folded_into=folded_into,
        )
        .where(Outbox.id == row.id)
        .execute()
    )
    return _claimed(row, expires) if updated == 1 else None


def count_due(now: datetime) -> int:
    """Rows a sender could claim at `now` (ignoring target spacing)."""
    return int(Outbox.select().where(due(now)).count())


def _take_back_abandoned(row: Outbox, now: datetime, policy: RetryPolicy | None) -> bool:
    """Record the abandoned try of a crashed sender; False when the row is dead instead."""
    attempts = int(row.attempts) + 1
    note = (
        f"the lease of sender {row.lease_owner} expired at {row.lease_expires_at:%Y-%m-%d %H:%M:%S} "
        "UTC before it reported: it stopped or stalled mid-send"
    )
    reason = None
    if policy is not None:
        age = (now - row.created_at).total_seconds()
        reason = policy.gives_up(attempts=attempts, age_seconds=age, retryable=True)
    DeliveryAttempt.create(
        outbox=row.id,
        started_at=now,
        outcome="dead" if reason else "lease_expired",
        error_class="LeaseExpired",
        message=note,
    )
    fields: dict[str, Any] = {
        "attempts": attempts, "last_error": note, "updated_at": now, "folded_into": None
    }
    if reason:
        fields.update(
            status="dead", lease_owner=None, lease_expires_at=None, last_error=f"{note}; {reason}"
        )
    Outbox.update(**fields).where(Outbox.id == row.id).execute()
    row.attempts = attempts
    return reason is None


def _claimed(row: Outbox, expires: datetime) -> ClaimedDelivery:
    alert = Alert.get_or_none(Alert.id == fk_id(row, "alert"))
    url, priority, source_key, fingerprint, why, title = "", "normal", None, None, "", ""
    if alert is not None:
        priority, source_key, fingerprint = alert.priority, alert.source_key, alert.fingerprint
        why, title = matched_line(alert.matched), str(alert.title or "")
        event_id = fk_id(alert, "event")
        if event_id is not None:
            event = Event.get_or_none(Event.id == event_id)
            url = event.url if event is not None else ""
    return ClaimedDelivery(
        id=int(row.id),
        alert_id=int(fk_id(row, "alert") or 0),
        channel=row.channel,
        target=row.target,
        attempts=int(row.attempts),
        created_at=row.created_at,
        lease_expires_at=expires,
        message=Message(subject=row.subject, body=row.body, url=url, priority=priority),
        source_key=source_key,
        fingerprint=fingerprint,
        why=why,
        title=title,
    )


def matched_line(matched: Any) -> str:
    """An alert's matched rules and reasons in one line ("rule: reason; reason | rule: ...")."""
    parts = []
    for entry in matched if isinstance(matched, list) else []:
        if isinstance(entry, dict):
            reasons = "; ".join(str(r) for r in entry.get("reasons") or [])
            parts.append(f"{entry.get('rule', '?')}: {reasons}" if reasons else str(entry.get("rule")))
    return " | ".join(parts)


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


def release(owner: str, now: datetime | None = None) -> int:
    """Graceful shutdown: give back this owner's unfinished leases; they are due again at once."""
    when = now if now is not None else utcnow()
    with write_transaction(bound_database()):
        back_to = peewee.Case(None, [(Outbox.attempts == 0, "pending")], "retrying")
        return int(
            Outbox.update(
                status=back_to, lease_owner=None, lease_expires_at=None, updated_at=when,
                folded_into=None,
            )
            .where((Outbox.status == "sending") & (Outbox.lease_owner == owner))
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

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

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import peewee

from mrt.delivery.backoff import RetryPolicy
from mrt.delivery.base import Message
from mrt.events import utcnow
from mrt.store.db import is_sqlite, write_transaction
from mrt.store.models import Alert, AuditLog, DeliveryAttempt, Event, Outbox, database_proxy

STATUSES = ("pending", "sending", "sent", "retrying", "dead", "discarded")
LEASE_LOST = "lease_lost"
MAX_MESSAGE_CHARS = 2000


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


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A row this sender now holds a lease on; `attempts` counts the tries before this one."""

    id: int
    alert_id: int
    channel: str
    target: str
    attempts: int
    created_at: datetime
    lease_expires_at: datetime
    message: Message
    source_key: str | None = None
    fingerprint: str | None = None


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """What one try looked like. `message` must already be scrubbed of the target's secrets."""

    started_at: datetime
    duration_ms: int = 0
    http_status: int | None = None
    vendor_code: str | None = None
    error_class: str | None = None
    message: str | None = None
    throttled: bool = False


@dataclass(frozen=True, slots=True)
class OutboxFilter:
    """Which rows a bulk operator action touches (all given fields must match)."""

    status: str | None = None
    channel: str | None = None
    source_key: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in (("status", self.status), ("channel", self.channel),
                                  ("source_key", self.source_key)) if v is not None}


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    alert_id: int
    channel: str
    target: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    subject: str
    source_key: str | None
    fingerprint: str | None


# Generic secret shapes, removed even when the caller forgot to name the secret: a password in
# a URL's userinfo, and the values of query parameters that are credentials by name.
_URL_PASSWORD = re.compile(r"(?P<pre>[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)[^/\s@]+@")
_SECRET_PARAM = re.compile(
    r"(?P<pre>[?&;](?:token|access_token|key|apikey|api_key|secret|password|pass|sig|signature)=)"
    r"[^&\s#\"']+",
    re.IGNORECASE,
)


def redact_common_secrets(text: str) -> str:
    """Remove secrets recognisable by shape; the sender removes the target's known ones first."""
    text = _URL_PASSWORD.sub(r"\g<pre>***@", text)
    text = _SECRET_PARAM.sub(r"\g<pre>***", text)
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 1] + "…"
    return text


def describe_failure(attempt: AttemptRecord) -> str:
    """The last error in plain words, as `mrt outbox` and the TUI show it."""
    parts: list[str] = []
    if attempt.throttled:
        parts.append("throttled by the target")
    if attempt.http_status is not None:
        parts.append(f"HTTP {attempt.http_status}")
    if attempt.vendor_code is not None:
        parts.append(f"vendor code {attempt.vendor_code}")
    if attempt.error_class and attempt.http_status is None:
        parts.append(attempt.error_class)
    head = ", ".join(parts)
    text = redact_common_secrets(attempt.message or "")
    if head and text:
        return f"{head}: {text}"
    return head or text or "failed without a reason given"


def _fk(row: peewee.Model, name: str) -> int | None:
    """A foreign key's raw id without loading the related row."""
    value = row.__data__.get(name)
    return int(value) if value is not None else None


def _tuples(query: peewee.ModelSelect[Any]) -> list[tuple[Any, ...]]:
    return [cast(tuple[Any, ...], r) for r in query.tuples()]


def _as_datetime(value: Any) -> datetime | None:
    """Aggregates (MIN/MAX) come back raw from the driver: text on SQLite."""
    parsed = Outbox.created_at.python_value(value)  # text -> datetime; naive -> aware UTC
    return parsed if isinstance(parsed, datetime) else None


def _db() -> peewee.Database:
    db: peewee.Database = database_proxy.obj
    return db


def _due(now: datetime) -> peewee.Expression:
    waiting = Outbox.status.in_(("pending", "retrying")) & (Outbox.next_attempt_at <= now)
    abandoned = (Outbox.status == "sending") & (Outbox.lease_expires_at <= now)
    return waiting | abandoned


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
    db = _db()
    claimed: list[ClaimedDelivery] = []
    expires = now + timedelta(seconds=lease_seconds)
    with write_transaction(db):
        query = Outbox.select().where(_due(now))
        if exclude_targets:
            query = query.where(Outbox.target.not_in(list(exclude_targets)))
        if one_per_target:
            # The oldest due row of each target (FIFO per target), targets by earliest due.
            firsts = (
                Outbox.select(peewee.fn.MIN(Outbox.id))
                .where(_due(now))
                .group_by(Outbox.target)
                .order_by(peewee.fn.MIN(Outbox.next_attempt_at))
            )
            if exclude_targets:
                firsts = firsts.where(Outbox.target.not_in(list(exclude_targets)))
            query = query.where(Outbox.id.in_([int(r[0]) for r in _tuples(firsts.limit(limit))]))
        query = query.order_by(Outbox.next_attempt_at, Outbox.id).limit(limit)
        if not is_sqlite(db):
            # PostgreSQL: concurrent claimers skip each other's rows instead of waiting.
            # (SQLite needs nothing: BEGIN IMMEDIATE lets one writer in at a time.)
            query = query.for_update(skip_locked=True)
        seen_targets: set[str] = set()  # the same target twice only when not one_per_target
        for row in query:
            if one_per_target and row.target in seen_targets:
                continue
            if row.status == "sending" and not _take_back_abandoned(row, now, policy):
                continue
            updated = (
                Outbox.update(
                    status="sending", lease_owner=owner, lease_expires_at=expires, updated_at=now
                )
                .where(Outbox.id == row.id)
                .execute()
            )
            if updated != 1:
                continue
            seen_targets.add(row.target)
            claimed.append(_claimed(row, expires))
    return claimed


def count_due(now: datetime) -> int:
    """Rows a sender could claim at `now` (ignoring target spacing)."""
    return int(Outbox.select().where(_due(now)).count())


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
        outbox=row.id, started_at=now, outcome="dead" if reason else "lease_expired",
        error_class="LeaseExpired", message=note,
    )
    fields: dict[str, Any] = {"attempts": attempts, "last_error": note, "updated_at": now}
    if reason:
        fields.update(status="dead", lease_owner=None, lease_expires_at=None,
                      last_error=f"{note}; {reason}")
    Outbox.update(**fields).where(Outbox.id == row.id).execute()
    row.attempts = attempts
    return reason is None


def _claimed(row: Outbox, expires: datetime) -> ClaimedDelivery:
    alert = Alert.get_or_none(Alert.id == _fk(row, "alert"))
    url, priority, source_key, fingerprint = "", "normal", None, None
    if alert is not None:
        priority, source_key, fingerprint = alert.priority, alert.source_key, alert.fingerprint
        event_id = _fk(alert, "event")
        if event_id is not None:
            event = Event.get_or_none(Event.id == event_id)
            url = event.url if event is not None else ""
    return ClaimedDelivery(
        id=int(row.id),
        alert_id=int(_fk(row, "alert") or 0),
        channel=row.channel,
        target=row.target,
        attempts=int(row.attempts),
        created_at=row.created_at,
        lease_expires_at=expires,
        message=Message(subject=row.subject, body=row.body, url=url, priority=priority),
        source_key=source_key,
        fingerprint=fingerprint,
    )


def _held(outbox_id: int, owner: str) -> peewee.Expression:
    return (
        (Outbox.id == outbox_id) & (Outbox.status == "sending") & (Outbox.lease_owner == owner)
    )


def _record_lost(outbox_id: int, attempt: AttemptRecord, what: str) -> str:
    """The send happened (a possible duplicate), so it is recorded; the row is left alone."""
    row = Outbox.get_or_none(Outbox.id == outbox_id)
    if row is None:
        return LEASE_LOST  # the row is gone (its alert was pruned): nothing to attach a note to
    now_held = f" by sender {row.lease_owner}" if row.status == "sending" else ""
    DeliveryAttempt.create(
        outbox=outbox_id, started_at=attempt.started_at, duration_ms=attempt.duration_ms,
        outcome=LEASE_LOST, http_status=attempt.http_status, vendor_code=attempt.vendor_code,
        error_class=attempt.error_class,
        message=redact_common_secrets(
            f"{what} after this sender's lease had been lost; the row is {row.status}{now_held}"
            " and was left as it is"
            + (f" ({attempt.message})" if attempt.message else "")
        ),
    )
    return LEASE_LOST


def mark_sent(outbox_id: int, owner: str, now: datetime, attempt: AttemptRecord) -> str:
    """Record a successful try: "sent", or LEASE_LOST when `owner` no longer holds the row."""
    with write_transaction(_db()):
        updated = (
            Outbox.update(
                status="sent", attempts=Outbox.attempts + 1, sent_at=now, updated_at=now,
                lease_owner=None, lease_expires_at=None, last_error=None,
            )
            .where(_held(outbox_id, owner))
            .execute()
        )
        if updated != 1:
            return _record_lost(outbox_id, attempt, "sent")
        _record(outbox_id, attempt, "sent")
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
) -> str:
    """Record a failed try; returns the new status ("retrying" | "dead") or LEASE_LOST."""
    with write_transaction(_db()):
        row = Outbox.get_or_none(_held(outbox_id, owner))
        if row is None:
            return _record_lost(outbox_id, attempt, "failed")
        attempts = int(row.attempts) + 1
        age = (now - row.created_at).total_seconds()
        error = describe_failure(attempt)
        gave_up = policy.gives_up(attempts=attempts, age_seconds=age, retryable=retryable)
        fields: dict[str, Any] = {
            "attempts": attempts, "updated_at": now, "lease_owner": None, "lease_expires_at": None,
        }
        if gave_up:
            status = "dead"
            fields.update(status=status, last_error=f"{error} ({gave_up})")
            outcome = "dead"
        else:
            status = "retrying"
            delay = policy.retry_delay_seconds(attempts, retry_after)
            fields.update(status=status, last_error=error,
                          next_attempt_at=now + timedelta(seconds=delay))
            outcome = "throttled" if attempt.throttled else "retry"
        Outbox.update(**fields).where(Outbox.id == outbox_id).execute()
        _record(outbox_id, attempt, outcome)
    return status


def _record(outbox_id: int, attempt: AttemptRecord, outcome: str) -> None:
    DeliveryAttempt.create(
        outbox=outbox_id, started_at=attempt.started_at, duration_ms=attempt.duration_ms,
        outcome=outcome, http_status=attempt.http_status, vendor_code=attempt.vendor_code,
        error_class=attempt.error_class,
        message=redact_common_secrets(attempt.message) if attempt.message else None,
    )


def release(owner: str, now: datetime | None = None) -> int:
    """Graceful shutdown: give back this owner's unfinished leases; they are due again at once."""
    when = now if now is not None else utcnow()
    with write_transaction(_db()):
        back_to = peewee.Case(None, [(Outbox.attempts == 0, "pending")], "retrying")
        return int(
            Outbox.update(status=back_to, lease_owner=None, lease_expires_at=None, updated_at=when)
            .where((Outbox.status == "sending") & (Outbox.lease_owner == owner))
            .execute()
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


RETRYABLE = ("dead", "retrying")
DISCARDABLE = ("pending", "retrying", "dead")


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
    with write_transaction(_db()):
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
        id=int(row.id), alert_id=int(_fk(row, "alert") or 0), channel=row.channel, target=row.target,
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
    for status, n in _tuples(query):
        counts[str(status)] = int(n)
    return counts


def oldest_pending_age_seconds(now: datetime) -> float | None:
    """Age of the oldest delivery still on its way (pending, sending, retrying), or None."""
    oldest = _as_datetime(
        Outbox.select(peewee.fn.MIN(Outbox.created_at))
        .where(Outbox.status.in_(("pending", "sending", "retrying")))
        .scalar()
    )
    if oldest is None:
        return None
    return max(0.0, (now - oldest).total_seconds())


def last_attempt_by_target() -> dict[str, datetime]:
    """When each target was last tried: a restarted sender keeps spacing from there."""
    query = (
        Outbox.select(Outbox.target, peewee.fn.MAX(DeliveryAttempt.started_at).alias("last"))
        .join(DeliveryAttempt)
        .group_by(Outbox.target)
    )
    result: dict[str, datetime] = {}
    for target, last in _tuples(query):
        when = _as_datetime(last)
        if when is not None:
            result[str(target)] = when
    return result

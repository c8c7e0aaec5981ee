"""Leasing outbox rows to a sender, and what a leased row carries (see outbox.py's claims).

    lease_row(row, owner, now, expires, policy)   one due row (taking back a crashed
                                                  sender's abandoned one first)
    lease_many(ids, owner, now, expires)          waiting rows in one UPDATE ... RETURNING
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import peewee

from mrt.message import Message
from mrt.retry import RetryPolicy
from mrt.store.models import Alert, DeliveryAttempt, Event, Outbox
from mrt.store.outbox_extra import claim_extra
from mrt.store.outbox_records import ClaimedDelivery, fk_id
from mrt.store.outbox_sql import claimed_rows, lease_ids


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
    _give_back_run(row, now)
    row.attempts = attempts
    return reason is None


def _give_back_run(row: Outbox, now: datetime) -> int:
    """The rest of the run `row` was leased in (outbox_claim.py: same owner, expiry and target,
    later ids, not folded), back to waiting untried: its sender sent a run's rows one at a
    time, each after the one before was recorded, so only `row` may have gone out."""
    back_to = peewee.Case(None, [(Outbox.attempts == 0, "pending")], "retrying")
    return int(
        Outbox.update(
            status=back_to, lease_owner=None, lease_expires_at=None, updated_at=now,
        )
        .where(
            (Outbox.status == "sending")
            & (Outbox.lease_owner == row.lease_owner)
            & (Outbox.lease_expires_at == row.lease_expires_at)
            & (Outbox.target == row.target)
            & (Outbox.id > row.id)
            & Outbox.folded_into.is_null()
        )
        .execute()
    )


def lease_many(
    ids: Collection[int], owner: str, now: datetime, expires: datetime
) -> list[ClaimedDelivery]:
    """Lease the waiting (pending/retrying) rows among `ids` in one UPDATE ... RETURNING and
    read what their sends need in one query; rows in another status are left out."""
    got = lease_ids(ids, owner, now, expires)  # plain SQL: outbox_sql.py says why
    found = claimed_rows(got)
    return [_claimed(found[i][0], expires, found[i][1], found[i][2]) for i in got if i in found]

def _claimed(
    row: Outbox, expires: datetime, alert: Alert | None = None, event: Event | None = None
) -> ClaimedDelivery:
    if alert is None:
        alert = Alert.get_or_none(Alert.id == fk_id(row, "alert"))
    url, priority, source_key, fingerprint, why, title = "", "normal", None, None, "", ""
    if alert is not None and alert.id is not None:
        priority, source_key, fingerprint = alert.priority, alert.source_key, alert.fingerprint
        why, title = matched_line(alert.matched), str(alert.title or "")
        event_id = fk_id(alert, "event")
        if event is None and event_id is not None:
            event = Event.get_or_none(Event.id == event_id)
        url = event.url if event is not None and event.id is not None else ""
    known_alert = alert if alert is not None and alert.id is not None else None
    known_event = event if event is not None and event.id is not None else None
    return ClaimedDelivery(
        id=int(row.id),
        alert_id=int(fk_id(row, "alert") or 0),
        channel=row.channel,
        target=row.target,
        attempts=int(row.attempts),
        created_at=row.created_at,
        lease_expires_at=expires,
        message=Message(
            subject=row.subject, body=row.body, url=url, priority=priority,
            extra=claim_extra(known_alert, known_event),  # what a vendor's card shows
        ),
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



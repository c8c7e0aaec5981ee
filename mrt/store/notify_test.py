"""The rows of a test message (`mrt notify test`): an alert of kind "test" and its outbox rows,
already leased to the caller, so it goes out through the real path (attempts, trace) while no
worker can claim it.

    enqueue_test(title, deliveries, owner=, now=, lease_seconds=) -> [ClaimedDelivery]

The caller sends each row and records it with mrt.store.outbox.mark_sent / mark_failed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from mrt.message import Message
from mrt.store.db import bound_database, write_transaction
from mrt.store.models import Alert, Outbox
from mrt.store.outbox_extra import claim_extra
from mrt.store.outbox_records import ClaimedDelivery

TEST_KIND = "test"


def enqueue_test(
    title: str,
    deliveries: Iterable[tuple[str, str, Message]],
    *,
    owner: str,
    now: datetime,
    lease_seconds: int,
) -> list[ClaimedDelivery]:
    expires = now + timedelta(seconds=lease_seconds)
    claimed: list[ClaimedDelivery] = []
    with write_transaction(bound_database()):
        alert = Alert.create(
            kind=TEST_KIND, title=title, priority="normal", tags=["test"], matched=[],
            payload={"test": True}, created_at=now,
        )
        extra = claim_extra(alert, None)
        for channel, target, message in deliveries:
            row = Outbox.create(
                alert=alert.id, channel=channel, target=target, status="sending",
                subject=message.subject, body=message.body, next_attempt_at=now,
                lease_owner=owner, lease_expires_at=expires, created_at=now, updated_at=now,
            )
            claimed.append(ClaimedDelivery(
                id=int(row.id), alert_id=int(alert.id), channel=channel, target=target,
                attempts=0, created_at=now, lease_expires_at=expires,
                message=replace(message, extra={**message.extra, **extra}),
            ))
    return claimed

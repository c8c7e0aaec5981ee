"""The outbox: one row per (alert, delivery target), and the state machine that moves it.

pending -> sending -> sent
                  -> retrying -> sending ... -> dead   (max attempts or max age)
any unsent -> discarded (operator's choice)
"""

from __future__ import annotations

from datetime import datetime

from mrt.delivery.base import Message
from mrt.store.models import Outbox


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

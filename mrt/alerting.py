"""Alerts that MRT raises about itself for the operators: a source failing or recovering,
upstream items kept aside, the database unavailable.

Each is one alert with one outbox row per target of `observability.ops_channels` (default:
every configured channel), written by the caller inside its own transaction, so a notice commits
with what it tells of or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from mrt.config import Config
from mrt.delivery.base import Message, Target
from mrt.store.cycle import PlannedAlert, PlannedDelivery, create_alert


def ops_notice(
    config: Config,
    targets: Mapping[str, Sequence[Target]],
    message: Message,
    *,
    title: str,
    kind: str,
    tags: tuple[str, ...],
    priority: str = "high",
    source_key: str | None = None,
    now: datetime,
) -> None:
    """Store one operators' notice with its deliveries (call inside a write transaction)."""
    channels = config.observability.ops_channels or list(targets)
    deliveries = tuple(
        PlannedDelivery(ch, t.key, message) for ch in channels for t in targets.get(ch, [])
    )
    plan = PlannedAlert(
        title=title, priority=priority, tags=tags, matched=[], deliveries=deliveries
    )
    create_alert(
        plan,
        event_id=None,
        fingerprint=None,
        source_key=source_key,
        version_id=None,
        kind=kind,
        now=now,
    )

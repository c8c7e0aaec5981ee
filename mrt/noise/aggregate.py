"""Flushing aggregation buckets: when a window ends, one alert lists every member.

    flush_due_aggregates(db, targets, renderer, now) -> int      (alerts created)

Each due bucket is flushed in its own write transaction: the bucket is claimed by a conditional
update (another worker may have flushed it), its members become one alert planned by
mrt.alerting.plan_aggregate (one message per channel; a channel missing or failing to render is
recorded on the alert, never raised), and the alert (kind "aggregate"), its AlertEvent members, one outbox row per target and the
bucket's `flushed_at` are committed together. A crash leaves the bucket unflushed, to be
flushed by the next tick; a second flush of the same bucket finds it done and creates nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import peewee

from mrt.alerting import Renderer, plan_aggregate
from mrt.delivery.base import Target
from mrt.rules import Decision, RuleMatch
from mrt.store import noise
from mrt.store.cycle import create_alert
from mrt.store.db import write_transaction
from mrt.store.history import tracker_event
from mrt.store.models import Event

log = logging.getLogger(__name__)

PRIORITY_ORDER = ("low", "normal", "high", "critical")


def merged_decision(
    members: Sequence[Event], action: str, channels: Sequence[str], group_key: str | None
) -> Decision:
    """One decision for several stored events: every rule that matched (first reasons kept),
    the highest priority, the union of tags; the first member's template and window."""
    details: list[dict[str, Any]] = [dict(m.decision_detail or {}) for m in members]
    matched: dict[str, tuple[str, ...]] = {}
    tags: dict[str, None] = {}
    for detail in details:
        for match in detail.get("matched") or ():
            matched.setdefault(str(match.get("rule")), tuple(match.get("reasons") or ()))
        tags.update(dict.fromkeys(str(t) for t in detail.get("tags") or ()))
    priorities = [str(d.get("priority") or "normal") for d in details] or ["normal"]
    first = details[0] if details else {}
    return Decision(
        action=action,
        channels=tuple(channels),
        priority=max(priorities, key=_urgency),
        tags=tuple(tags),
        matched=tuple(RuleMatch(rule, reasons) for rule, reasons in matched.items()),
        template=first.get("template"),
        group_key=group_key,
        window_minutes=first.get("window_minutes"),
        digest=first.get("digest"),
        decided_by=first.get("decided_by"),
    )


def _urgency(priority: str) -> int:
    return PRIORITY_ORDER.index(priority) if priority in PRIORITY_ORDER else 1


def common_source_key(members: Sequence[Event]) -> str | None:
    keys = {str(m.source_key) for m in members}
    return keys.pop() if len(keys) == 1 else None


def _flush_bucket(
    bucket_id: int, targets: Mapping[str, list[Target]], renderer: Renderer, now: datetime
) -> int | None:
    bucket = noise.claim_bucket(bucket_id, now)
    if bucket is None:  # flushed meanwhile by another worker
        return None
    members = noise.bucket_members(bucket_id)
    if not members:  # its events were pruned: nothing left to tell
        return None
    events = [tracker_event(m) for m in members]
    decision = merged_decision(members, "aggregate", bucket.channels, bucket.group_key)
    payload: dict[str, Any] = {
        "bucket": bucket_id,
        "members": len(members),
        "window_end": bucket.window_end.isoformat(),
    }
    plan = plan_aggregate(renderer, targets, events, decision, payload)
    alert_id, _ = create_alert(
        plan,
        event_id=None,
        fingerprint=None,
        source_key=common_source_key(members),
        version_id=members[0].__data__.get("rule_version"),
        kind="aggregate",
        now=now,
    )
    noise.link_members(alert_id, (int(m.id) for m in members))
    noise.set_bucket_alert(bucket_id, alert_id)
    return alert_id


def flush_due_aggregates(
    db: peewee.Database,
    targets: Mapping[str, list[Target]],
    renderer: Renderer,
    now: datetime,
) -> int:
    """Flush every bucket whose window ended at or before `now`; the number of alerts made."""
    created = 0
    for bucket_id in noise.due_bucket_ids(now):
        try:
            with write_transaction(db):
                alert_id = _flush_bucket(bucket_id, targets, renderer, now)
        except Exception as exc:  # rolled back whole; one bucket never holds the others back
            log.error(
                "aggregate bucket %d not flushed (retried next tick): %s: %s",
                bucket_id,
                type(exc).__name__,
                exc,
            )
            continue
        if alert_id is not None:
            created += 1
            log.info("aggregate alert %d from bucket %d", alert_id, bucket_id)
    return created

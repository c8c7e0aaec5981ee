"""Scheduled digests: low-priority matches collected, then sent as one summary per schedule.

    last_scheduled(cron, timezone, now) -> datetime      the latest firing at or before `now`
    flush_due_digests(db, renderer, targets, now) -> int   digests sent

A digest fires when its latest scheduled time (croniter, in the digest's time zone) is later
than the last firing recorded in digest_schedule. Every firing is recorded, also an empty one
(which sends nothing), so an item queued after 09:00 waits for tomorrow's 09:00 and does not
go out at the next tick. A digest never recorded before has not fired since its first item
was queued. Each firing is one write transaction: the firing is claimed in the schedule row,
then the alert (kind "digest", planned by mrt.alerting.plan_digest), its AlertEvent members, one outbox row per target, the items'
`sent_at` and the firing are committed together.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import peewee

from mrt.alerting import Renderer, plan_digest
from mrt.config import DigestConfig
from mrt.delivery.base import Target
from mrt.noise.aggregate import merged_decision
from mrt.store import noise
from mrt.store.cycle import create_alert
from mrt.store.db import write_transaction
from mrt.store.history import tracker_event
from mrt.store.models import DigestItem, Event

if TYPE_CHECKING:
    from mrt.delivery.digest_render import DigestEntry

log = logging.getLogger(__name__)


def last_scheduled(cron: str, timezone: str, now: datetime) -> datetime:
    """The latest time at or before `now` that `cron` fires at in `timezone`, in UTC."""
    from croniter import croniter  # ~25 ms at import: only a config with digests pays it

    local = now.astimezone(ZoneInfo(timezone))
    # croniter's get_prev is strictly before its start: start a second after `now`
    start = local.replace(microsecond=0) + timedelta(seconds=1)
    fired: datetime = croniter(cron, start).get_prev(datetime)
    return fired.astimezone(UTC)


def is_due(name: str, fired: datetime) -> bool:
    last = noise.digest_last_fired(name)
    if last is not None:
        return fired > last
    earliest = noise.earliest_pending_digest_item(name)
    # never fired: due when it fired after the first item came, or (nothing queued) to record
    # this firing as the starting point
    return earliest is None or fired >= earliest


def _entries(rows: list[tuple[DigestItem, Event]]) -> list[DigestEntry]:
    from mrt.delivery.digest_render import DigestEntry  # the renderer: when a digest fires

    return [
        DigestEntry(
            tracker_event(event),
            (event.decision_detail or {}).get("decided_by"),
            str((event.decision_detail or {}).get("priority") or "low"),
        )
        for _, event in rows
    ]


def _channels_of(event: Event, digest: DigestConfig, targets: Mapping[str, Any]) -> list[str]:
    """Where an item goes: the channels its rule decided, else the digest's, else all."""
    decided = [str(c) for c in (event.decision_detail or {}).get("channels") or ()]
    return decided or list(digest.channels) or list(targets)


def _send_digest(
    renderer: Renderer,
    name: str,
    digest: DigestConfig,
    targets: Mapping[str, list[Target]],
    fired: datetime,
    now: datetime,
) -> int | None:
    rows = noise.pending_digest_items(name, until=now)
    if not rows:  # the firing is recorded all the same: later items wait for the next one
        return None
    per_channel: dict[str, list[tuple[DigestItem, Event]]] = {}
    for row in rows:
        for channel in _channels_of(row[1], digest, targets):
            per_channel.setdefault(channel, []).append(row)
    events = [event for _, event in rows]
    decision = merged_decision(events, "digest", list(per_channel), f"digest:{name}")
    by_source = Counter(str(e.source_key) for e in events)
    by_rule = Counter(str((e.decision_detail or {}).get("decided_by")) for e in events)
    payload: dict[str, Any] = {
        "digest": name,
        "scheduled_at": fired.isoformat(),
        "items": len(rows),
        "by_source": dict(by_source),
        "by_rule": dict(by_rule),
    }
    entries = {channel: _entries(channel_rows) for channel, channel_rows in per_channel.items()}
    plan = plan_digest(
        renderer, targets, name, digest, entries, decision, payload, items=len(rows)
    )
    alert_id, _ = create_alert(
        plan,
        event_id=None,
        fingerprint=None,
        source_key=next(iter(by_source)) if len(by_source) == 1 else None,
        version_id=events[-1].__data__.get("rule_version"),
        kind="digest",
        now=now,
    )
    noise.link_members(alert_id, (int(e.id) for e in events))
    noise.mark_digest_items_sent([int(item.id) for item, _ in rows], alert_id, now)
    noise.set_digest_alert(name, alert_id)
    return alert_id


def flush_due_digests(
    db: peewee.Database,
    renderer: Renderer,
    targets: Mapping[str, list[Target]],
    now: datetime,
) -> int:
    """Send every digest of the renderer's config whose schedule fired since its last firing."""
    sent = 0
    for name, digest in renderer.config.digests.items():
        fired = last_scheduled(digest.cron, digest.timezone, now)
        if not is_due(name, fired):  # the cheap, common answer: two indexed lookups
            continue
        try:
            with write_transaction(db):
                if not noise.claim_digest_firing(name, fired, now):  # another worker did
                    continue
                alert_id = _send_digest(renderer, name, digest, targets, fired, now)
        except Exception as exc:  # rolled back whole; one digest never holds the others back
            log.error(
                "digest %s not sent (retried next tick): %s: %s", name, type(exc).__name__, exc
            )
            continue
        if alert_id is not None:
            sent += 1
            log.info("digest %s sent as alert %d", name, alert_id)
    return sent

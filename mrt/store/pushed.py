"""Events an upstream pushed (a webhook delivery), stored the way a cycle stores what it polled,
but without the poll: the source's cursor, validators and schedule stay as they are.

Call everything here inside one write transaction (worker/webhooks.py opens it):

    lock_source(db, key)          serialise with a poll's commit of the same source
    claim_delivery(id, ...)       False: this delivery was acted on before (replay protection)
    commit_pushed(...)            events, decisions, alerts, outbox rows, snapshots
    finish_delivery(id, ...)      what the delivery made, for `mrt` and the console

A poll and a delivery of the same change make events with the same fingerprints (the source
maps both); whichever commits second finds them stored. Holding the source's row lock first
makes the second wait for the first on PostgreSQL (a poll's commit takes it with its lease
fence); SQLite's writer lock orders them anyway.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import peewee

from mrt.store import cycle, sources
from mrt.store.cycle import CycleCounts, PlannedEvent
from mrt.store.db import is_sqlite, require_transaction
from mrt.store.models import SourceState, WebhookDelivery


def lock_source(db: peewee.Database, source_key: str) -> SourceState | None:
    """The source's state, locked until the caller's transaction ends (PostgreSQL)."""
    require_transaction(db, "lock_source")
    query = SourceState.select().where(SourceState.source_key == source_key)
    if not is_sqlite(db):
        query = query.for_update()
    state: SourceState | None = query.first()
    return state


def claim_delivery(delivery_id: str, provider: str, event: str, now: datetime) -> bool:
    """Record the delivery; False when its id was recorded before (it is not acted on again)."""
    inserted = (
        WebhookDelivery.insert(
            delivery_id=delivery_id, provider=provider, event=event, received_at=now
        )
        .on_conflict_ignore()
        .as_rowcount()
        .execute()
    )
    return bool(inserted)


def finish_delivery(delivery_id: str, source_key: str | None, events: int) -> None:
    WebhookDelivery.update(source_key=source_key, events=events).where(
        WebhookDelivery.delivery_id == delivery_id
    ).execute()


def commit_pushed(
    db: peewee.Database,
    source_key: str,
    planned: list[PlannedEvent],
    snapshots: dict[str, dict[str, Any]],
    *,
    rule_digest: str,
    rule_canonical: dict[str, Any],
    now: datetime,
) -> CycleCounts:
    """Store the planned events not stored yet, their alerts and outbox rows, and the
    snapshots; in the caller's write transaction."""
    require_transaction(db, "commit_pushed")
    counts = CycleCounts()
    version_id = cycle.rule_version_id(rule_digest, rule_canonical, now)
    # the one shape of an event row, and the one insert, shared with the cycle's commit; a
    # repeat is one the poll (or this delivery sent before) stored
    fresh, ids = cycle.insert_new_events(db, planned, version_id)
    counts.new_events, counts.repeats = len(fresh), len(planned) - len(fresh)
    counts.matched = sum(1 for _, p in fresh if p.detail.get("matched"))
    for fp, p in fresh:
        if p.alert is None:
            continue
        alert_id, enqueued = cycle.create_alert(
            p.alert,
            event_id=ids[fp],
            fingerprint=fp,
            source_key=source_key,
            version_id=version_id,
            kind="event",
            now=now,
        )
        counts.alerts += 1
        counts.deliveries += enqueued
        counts.alert_ids.append(alert_id)
    sources.upsert_snapshots(source_key, snapshots, now)
    return counts

"""Keeping the database healthy: integrity check and pruning by age."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import peewee

from mrt.store.db import fetch_all, is_sqlite, write_transaction
from mrt.store.models import (
    ALL_MODELS,
    Alert,
    AlertEvent,
    CycleMetric,
    DeliveryAttempt,
    DigestItem,
    Event,
)


def integrity_check(db: peewee.Database) -> list[str]:
    """["ok"] when sound; otherwise one line per problem.

    SQLite: `PRAGMA integrity_check` plus `PRAGMA foreign_key_check`. PostgreSQL guards its own
    pages; there it checks that every table of the schema answers a query.
    """
    problems: list[str] = []
    if is_sqlite(db):
        rows = fetch_all(db, "PRAGMA integrity_check")
        problems = [str(r[0]) for r in rows if r[0] != "ok"]
        for table, rowid, parent, _ in fetch_all(db, "PRAGMA foreign_key_check"):
            problems.append(f"foreign key violation: {table} row {rowid} points at a missing {parent}")
    else:
        present = set(db.get_tables())
        for model in ALL_MODELS:
            name = model._meta.table_name
            if name not in present:
                problems.append(f"table {name} is missing: run `mrt db migrate`")
                continue
            with db.bind_ctx([model]):
                model.select().limit(1).count()
    return problems or ["ok"]


@dataclass(frozen=True)
class PruneCounts:
    events: int
    delivery_attempts: int
    cycle_metrics: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _kept_event_ids(alert_cutoff: datetime) -> peewee.SelectQuery:
    """Events an alert younger than the alert retention still points at."""
    direct = Alert.select(Alert.event).where(
        (Alert.created_at >= alert_cutoff) & Alert.event.is_null(False)
    )
    members = (
        AlertEvent.select(AlertEvent.event)
        .join(Alert)
        .where(Alert.created_at >= alert_cutoff)
    )
    return direct | members


def prune(
    db: peewee.Database,
    *,
    now: datetime,
    event_days: int,
    alert_days: int,
    dry_run: bool = False,
) -> PruneCounts:
    """Delete events, delivery attempts and cycle metrics older than `event_days`.

    Events that an alert younger than `alert_days` refers to are kept, and so are events still
    waiting in an unsent digest. Alerts, outbox rows and the audit log are never pruned here.
    Returns what was (or, with `dry_run`, would be) deleted.
    """
    event_cutoff = now - timedelta(days=event_days)
    alert_cutoff = now - timedelta(days=alert_days)
    pending_digest = DigestItem.select(DigestItem.event).where(DigestItem.sent_at.is_null())
    old_events = Event.select(Event.id).where(
        (Event.observed_at < event_cutoff)
        & Event.id.not_in(_kept_event_ids(alert_cutoff))
        & Event.id.not_in(pending_digest)
    )
    old_attempts = DeliveryAttempt.select(DeliveryAttempt.id).where(
        DeliveryAttempt.started_at < event_cutoff
    )
    old_metrics = CycleMetric.select(CycleMetric.id).where(CycleMetric.started_at < event_cutoff)
    if dry_run:
        return PruneCounts(old_events.count(), old_attempts.count(), old_metrics.count())
    with write_transaction(db):
        ids = [row.id for row in old_events]
        events = 0
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            # the foreign keys do the rest: alert.event SET NULL, members and digest rows CASCADE
            events += Event.delete().where(Event.id.in_(chunk)).execute()
        attempts = DeliveryAttempt.delete().where(DeliveryAttempt.started_at < event_cutoff).execute()
        metrics = CycleMetric.delete().where(CycleMetric.started_at < event_cutoff).execute()
    return PruneCounts(events, attempts, metrics)

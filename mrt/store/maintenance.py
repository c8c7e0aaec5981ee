"""Keeping the database healthy: integrity check and pruning by age (`mrt db prune`, and the
worker on its schedule: worker/retention.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import peewee

from mrt.store.db import fetch_all, is_sqlite, write_transaction
from mrt.store.models import (
    ALL_MODELS,
    AggregateBucket,
    AggregateMember,
    Alert,
    AlertEvent,
    CycleMetric,
    DeliveryAttempt,
    DigestItem,
    Event,
    Outbox,
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


# An outbox row in one of these is still wanted: queued, or a dead letter an operator has not
# retried or discarded. Its alert, the alert's events and the row's attempts are never pruned.
NEEDED_STATUSES = ("pending", "retrying", "sending", "dead")
BATCH = 500  # rows per delete: each batch is its own short write transaction


@dataclass(frozen=True)
class PruneCounts:
    events: int
    delivery_attempts: int
    cycle_metrics: int
    alerts: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _kept_alert_ids(alert_cutoff: datetime) -> peewee.SelectQuery:
    """Alerts younger than the alert retention, and older ones an outbox row still needs."""
    needed = Outbox.select(Outbox.alert).where(Outbox.status.in_(NEEDED_STATUSES))
    return Alert.select(Alert.id).where((Alert.created_at >= alert_cutoff) | Alert.id.in_(needed))


def _kept_event_ids(alert_cutoff: datetime) -> peewee.SelectQuery:
    """Events a kept alert points at (itself or as a member), events waiting in an unsent
    digest, and members of an aggregation window not flushed yet."""
    kept = _kept_alert_ids(alert_cutoff)
    direct = Alert.select(Alert.event).where(Alert.id.in_(kept) & Alert.event.is_null(False))
    members = AlertEvent.select(AlertEvent.event).where(AlertEvent.alert.in_(kept))
    digest = DigestItem.select(DigestItem.event).where(DigestItem.sent_at.is_null())
    window = (
        AggregateMember.select(AggregateMember.event)
        .join(AggregateBucket)
        .where(AggregateBucket.flushed_at.is_null())
    )
    return direct | members | digest | window


def _prunable(event_cutoff: datetime, alert_cutoff: datetime) -> dict[str, Any]:
    """The ids each kind of row would lose, as queries (evaluated batch by batch)."""
    done_rows = Outbox.select(Outbox.id).where(Outbox.status.not_in(NEEDED_STATUSES))
    return {
        "alerts": Alert.select(Alert.id).where(
            (Alert.created_at < alert_cutoff) & Alert.id.not_in(_kept_alert_ids(alert_cutoff))
        ),
        "events": Event.select(Event.id).where(
            (Event.observed_at < event_cutoff) & Event.id.not_in(_kept_event_ids(alert_cutoff))
        ),
        "delivery_attempts": DeliveryAttempt.select(DeliveryAttempt.id).where(
            (DeliveryAttempt.started_at < event_cutoff) & DeliveryAttempt.outbox.in_(done_rows)
        ),
        "cycle_metrics": CycleMetric.select(CycleMetric.id).where(
            CycleMetric.started_at < event_cutoff
        ),
    }


def prune(
    db: peewee.Database,
    *,
    now: datetime,
    event_days: int,
    alert_days: int,
    dry_run: bool = False,
    batch: int = BATCH,
    between_batches: Callable[[], None] | None = None,
) -> PruneCounts:
    """Delete what is past retention, `batch` rows per short write transaction.

    - alerts older than `alert_days` (with their sent or discarded outbox rows and attempts),
      unless an outbox row still needs them (queued, or dead until retried or discarded);
    - events older than `event_days`, unless a kept alert points at them, an unsent digest
      holds them, or an aggregation window that has not flushed yet counts them;
    - delivery attempts older than `event_days` of rows that are sent or discarded;
    - cycle metrics older than `event_days`.

    The audit log is never pruned. Each batch re-evaluates what may go inside its own
    transaction, so a row that becomes needed meanwhile is kept; `between_batches` runs
    after each (the worker gives other writers their turn there). Returns what was (or, with
    `dry_run`, would be) deleted.
    """
    queries = _prunable(now - timedelta(days=event_days), now - timedelta(days=alert_days))
    if dry_run:
        return PruneCounts(**{name: query.count() for name, query in queries.items()})
    models: dict[str, Any] = {"alerts": Alert, "events": Event, "delivery_attempts": DeliveryAttempt,
              "cycle_metrics": CycleMetric}
    counts = dict.fromkeys(queries, 0)
    # alerts first: the events only they pointed at go in the same run
    for name, query in queries.items():
        model = models[name]
        while True:
            with write_transaction(db):
                ids = [row[0] for row in query.limit(batch).tuples()]
                # the foreign keys do the rest: alert.event SET NULL, members, digest rows,
                # outbox rows and their attempts CASCADE
                done = model.delete().where(model.id.in_(ids)).execute() if ids else 0
            counts[name] += done
            if len(ids) < batch:
                break
            if between_batches is not None:
                between_batches()
    return PruneCounts(**counts)

"""The queries `mrt replay` needs: what was already told to which channel, and the rule versions;
and the writes of a replay (its alerts, outbox rows and rule version; not its audit record).

"Told to a channel" means an outbox row for that channel, for an alert of the event (alone or
as a member of an aggregate/digest), that is sent or still on its way (pending, sending,
retrying). A dead or discarded row was never delivered, so replay may try again.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import peewee

from mrt.store import cycle
from mrt.store.cycle import PlannedAlert
from mrt.store.db import fetch_all, is_sqlite, require_transaction
from mrt.store.models import Alert, AlertEvent, Outbox, RuleVersion

TOLD = ("pending", "sending", "retrying", "sent")
_CHUNK = 500
# Any 64-bit number unique to MRT: the PostgreSQL advisory lock that serialises replays.
_PG_REPLAY_LOCK = 0x4D52545F52504C  # "MRT_RPL"


def hold_replay_lock(db: peewee.Database) -> None:
    """Replays (the operator's and the worker's after a rules change) one at a time across
    workers, until the caller's write transaction ends: then a second one reads what the first
    told (`told_channels`) and leaves it out, instead of both enqueuing the same alerts.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: the caller's write_transaction is
    BEGIN IMMEDIATE, which already holds the one writer lock from its first statement.
    """
    require_transaction(db, "hold_replay_lock")
    if not is_sqlite(db):
        fetch_all(db, "SELECT pg_advisory_xact_lock(%s)", (_PG_REPLAY_LOCK,))


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def told_channels(event_ids: Iterable[int]) -> dict[int, set[str]]:
    """For each event id, the channels an alert of it was sent (or is being sent) to."""
    ids = sorted(set(event_ids))
    told: dict[int, set[str]] = {}
    for chunk in _chunks(ids):
        direct = (
            Outbox.select(Alert.event, Outbox.channel)
            .join(Alert, on=(Outbox.alert == Alert.id))
            .where(Alert.event.in_(chunk) & Outbox.status.in_(TOLD))
        )
        member = (
            Outbox.select(AlertEvent.event, Outbox.channel)
            .join(AlertEvent, on=(Outbox.alert == AlertEvent.alert))
            .where(AlertEvent.event.in_(chunk) & Outbox.status.in_(TOLD))
        )
        for query in (direct, member):
            rows: Any = query.tuples()  # (event id, channel) pairs
            for event_id, channel in rows:
                told.setdefault(int(event_id), set()).add(str(channel))
    return told


def newest_rule_version() -> RuleVersion | None:
    """The rule version stored last (the one the previous run of the worker used)."""
    newest: RuleVersion | None = (
        RuleVersion.select().order_by(RuleVersion.created_at.desc(), RuleVersion.id.desc()).first()
    )
    return newest


def enqueue_replay(
    items: Iterable[tuple[int, str, str, PlannedAlert]],
    *,
    rule_digest: str,
    rule_canonical: dict[str, Any],
    payload: dict[str, Any],
    now: datetime,
) -> tuple[int, list[int], int]:
    """Alerts (kind "replay") and outbox rows for each (event id, fingerprint, source key, plan),
    and the rule version; call inside a write transaction (mrt.ops.replay opens it, and writes
    the audit record in it).

    Returns (rule version id, alert ids, deliveries enqueued).
    """
    version_id = cycle.rule_version_id(rule_digest, rule_canonical, now)
    alert_ids: list[int] = []
    deliveries = 0
    for event_id, fingerprint, source_key, plan in items:
        alert_id, enqueued = cycle.create_alert(
            plan,
            event_id=event_id,
            fingerprint=fingerprint,
            source_key=source_key,
            version_id=version_id,
            kind="replay",
            now=now,
            payload=payload,
        )
        alert_ids.append(alert_id)
        deliveries += enqueued
    return version_id, alert_ids, deliveries

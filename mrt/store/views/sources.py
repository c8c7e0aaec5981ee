"""Source health rows and the console's header: data age, the worker's heartbeat."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import peewee

from mrt.store import quarantine
from mrt.store.models import Alert, SourceState, WorkerHeartbeat


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One source as `mrt sources` and the console's sources screen show it: the database's
    state, and for the CLI whether the config still names it."""

    key: str
    plugin: str
    health: str
    health_detail: str | None
    last_poll_at: datetime | None
    last_success_at: datetime | None
    next_poll_at: datetime | None
    last_error: str | None
    consecutive_failures: int
    cursor: dict[str, Any] | None
    ratelimit_remaining: int | None
    ratelimit_reset_at: datetime | None
    deferred_until: datetime | None
    poll_requested_at: datetime | None
    quarantined: int = 0  # upstream items kept aside (mrt/store/quarantine.py)
    quarantine_reason: str | None = None  # the most recently seen one's reason
    last_error_class: str | None = None
    last_http_status: int | None = None
    configured: bool = True  # False: in the database, no longer in the config (`mrt sources`)

    @property
    def polled(self) -> bool:
        return self.last_poll_at is not None


def source_rows() -> list[SourceRow]:
    kept = quarantine.summaries()
    return [
        SourceRow(
            key=s.source_key,
            plugin=s.source,
            health=s.health,
            health_detail=s.health_detail,
            last_poll_at=s.last_poll_at,
            last_success_at=s.last_success_at,
            next_poll_at=s.next_poll_at,
            last_error=s.last_error,
            last_error_class=s.last_error_class,
            last_http_status=s.last_http_status,
            consecutive_failures=s.consecutive_failures,
            cursor=s.cursor,
            ratelimit_remaining=s.ratelimit_remaining,
            ratelimit_reset_at=s.ratelimit_reset_at,
            deferred_until=s.deferred_until,
            poll_requested_at=s.poll_requested_at,
            quarantined=kept[s.source_key].count if s.source_key in kept else 0,
            quarantine_reason=kept[s.source_key].latest_reason if s.source_key in kept else None,
        )
        for s in SourceState.select().order_by(SourceState.source_key)
    ]


@dataclass(frozen=True, slots=True)
class ConsoleStatus:
    data_at: datetime | None  # the newest poll any source made
    heartbeat_at: datetime | None  # the newest heartbeat of any worker
    worker_stopped: bool  # the newest worker said goodbye
    newest_alert_id: int
    worker_mode: str | None = None  # the newest worker's: daemon | once | service (None: pre-v8)


def console_status() -> ConsoleStatus:
    beat = WorkerHeartbeat.select().order_by(WorkerHeartbeat.heartbeat_at.desc()).first()
    data_at = SourceState.select(peewee.fn.MAX(SourceState.last_poll_at)).scalar()
    newest = Alert.select(peewee.fn.MAX(Alert.id)).scalar()
    if isinstance(data_at, str):  # an aggregate bypasses the field's converter on SQLite
        data_at = SourceState.last_poll_at.python_value(data_at)
    return ConsoleStatus(
        data_at=data_at,
        heartbeat_at=beat.heartbeat_at if beat else None,
        worker_stopped=bool(beat and beat.stopped_at is not None),
        newest_alert_id=int(newest or 0),
        worker_mode=beat.mode if beat else None,
    )

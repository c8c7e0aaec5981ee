"""Source state queries: what the scheduler, `mrt sources` and the TUI know of each source."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import peewee

from mrt.store.bulk import RowInsert, Statement
from mrt.store.db import bound_database
from mrt.store.models import CycleMetric, ResourceSnapshot, SourceState


def _answered(now: datetime) -> peewee.Node:
    """Clear a "poll now" the cycle starting at `now` answered; keep one asked for since."""
    return peewee.Case(
        None,
        [(SourceState.poll_requested_at <= now, None)],
        SourceState.poll_requested_at,
    )


def ensure_states(keys: Iterable[tuple[str, str]], now: datetime) -> None:
    """Create a state row for each (source_key, plugin) not seen before."""
    for key, plugin in keys:
        SourceState.insert(
            source_key=key, source=plugin, updated_at=now
        ).on_conflict_ignore().execute()


def get_state(key: str) -> SourceState:
    state: SourceState = SourceState.get_by_id(key)
    return state


def list_states(keys: Iterable[str] | None = None) -> list[SourceState]:
    query = SourceState.select().order_by(SourceState.source_key)
    if keys is not None:
        query = query.where(SourceState.source_key.in_(list(keys)))
    return list(query)


def due_keys(keys: Iterable[str], now: datetime) -> list[str]:
    """Sources whose time has come: never polled, next poll passed, or a poll was requested.

    A source deferred by a rate limit is not due before `deferred_until`, even when asked.
    """
    wanted = list(keys)
    if not wanted:
        return []
    query = SourceState.select(SourceState.source_key).where(
        SourceState.source_key.in_(wanted) & is_due(now)
    )
    due = {row.source_key for row in query}
    return [k for k in wanted if k in due]


def is_due(now: datetime) -> peewee.Node:
    """The condition `due_keys` reads, also re-checked where a lease is taken (leases.py)."""
    return (SourceState.deferred_until.is_null() | (SourceState.deferred_until <= now)) & (
        SourceState.next_poll_at.is_null()
        | (SourceState.next_poll_at <= now)
        | SourceState.poll_requested_at.is_null(False)
    )


def snapshots_for(source_key: str, resource_keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    keys = list(dict.fromkeys(resource_keys))
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(keys), 500):  # stay under SQLite's bound-variable limit
        chunk = keys[start : start + 500]
        query = ResourceSnapshot.select(
            ResourceSnapshot.resource_key, ResourceSnapshot.state
        ).where(
            (ResourceSnapshot.source_key == source_key) & ResourceSnapshot.resource_key.in_(chunk)
        )
        found.update({row.resource_key: row.state for row in query})
    return found


SNAPSHOTS = RowInsert(
    ResourceSnapshot,
    ("source_key", "resource_key", "state", "updated_at"),
    suffix='ON CONFLICT ("source_key", "resource_key") '
    'DO UPDATE SET "state" = excluded."state", "updated_at" = excluded."updated_at"',
)


def upsert_snapshots(source_key: str, snapshots: dict[str, dict[str, Any]], now: datetime) -> None:
    """Each resource's latest state, one statement for the cycle (store/bulk.py)."""
    SNAPSHOTS.execute(bound_database(), ((source_key, k, v, now) for k, v in snapshots.items()))


def record_failure(
    key: str,
    *,
    error: str,
    error_class: str,
    http_status: int | None,
    now: datetime,
    next_poll_at: datetime,
) -> SourceState:
    """A failed poll: the cursor does not move; the failure count and error are kept for the TUI."""
    SourceState.update(
        last_poll_at=now,
        last_error=error,
        last_error_class=error_class,
        last_http_status=http_status,
        consecutive_failures=SourceState.consecutive_failures + 1,
        health="failing",
        next_poll_at=next_poll_at,
        poll_requested_at=_answered(now),
        updated_at=now,
    ).where(SourceState.source_key == key).execute()
    return get_state(key)


def record_deferral(
    key: str, *, until: datetime, message: str, http_status: int | None, now: datetime
) -> None:
    """Rate limited: not an error storm; the source waits for the reset, cursor unmoved."""
    SourceState.update(
        last_poll_at=now,
        deferred_until=until,
        next_poll_at=until,
        health="deferred",
        health_detail=message,
        last_http_status=http_status,
        ratelimit_remaining=0,
        ratelimit_reset_at=until,
        poll_requested_at=_answered(now),
        updated_at=now,
    ).where(SourceState.source_key == key).execute()


# what record_success writes, as plain SQL built once (peewee built this UPDATE and its CASE
# anew every cycle): the cursor moves, the errors clear, a "poll now" asked before `now` is
# answered (the same CASE as _answered)
SUCCESS = Statement(
    SourceState,
    'UPDATE "source_state" SET "cursor" = {cursor}, "validators" = {validators}, '
    '"last_poll_at" = {last_poll_at}, "last_success_at" = {last_poll_at}, '
    '"last_error" = NULL, "last_error_class" = NULL, "last_http_status" = {last_http_status}, '
    '"consecutive_failures" = 0, "deferred_until" = NULL, "health" = {health}, '
    '"health_detail" = {health_detail}, "ratelimit_remaining" = {ratelimit_remaining}, '
    '"ratelimit_reset_at" = {ratelimit_reset_at}, "next_poll_at" = {next_poll_at}, '
    '"poll_requested_at" = CASE WHEN "poll_requested_at" <= {last_poll_at} THEN NULL '
    'ELSE "poll_requested_at" END, "updated_at" = {last_poll_at} '
    'WHERE "source_key" = {source_key}',
)


def record_success(
    key: str,
    *,
    cursor: dict[str, Any],
    validators: dict[str, Any],
    degraded: str | None,
    http_status: int | None,
    ratelimit_remaining: int | None,
    ratelimit_reset_at: datetime | None,
    now: datetime,
    next_poll_at: datetime,
) -> None:
    SUCCESS.execute(
        bound_database(),
        cursor=cursor,
        validators=validators,
        last_poll_at=now,
        last_http_status=http_status,
        health="degraded" if degraded else "ok",
        health_detail=degraded,
        ratelimit_remaining=ratelimit_remaining,
        ratelimit_reset_at=ratelimit_reset_at,
        next_poll_at=next_poll_at,
        source_key=key,
    )


def record_notice_failure(key: str, *, error: str, error_class: str, now: datetime) -> None:
    """The operators' notice of the cycle that started at `now` failed: that cycle failed.

    Counted once: a cycle that had already failed keeps its count; one that had succeeded
    (its events stay committed) becomes the first failure. Its metric row says so too.
    """
    SourceState.update(
        last_error=error,
        last_error_class=error_class,
        health="failing",
        consecutive_failures=peewee.Case(
            None, [(SourceState.consecutive_failures == 0, 1)], SourceState.consecutive_failures
        ),
        updated_at=now,
    ).where(SourceState.source_key == key).execute()
    CycleMetric.update(outcome="failed", error=error).where(
        (CycleMetric.source_key == key) & (CycleMetric.started_at == now)
    ).execute()


def set_failure_notified(key: str, notified: bool) -> None:
    SourceState.update(failure_notified=notified).where(SourceState.source_key == key).execute()


def request_poll(key: str, now: datetime) -> int:
    """ "Poll now" from the TUI or CLI; the worker sees it on its next tick."""
    return int(
        SourceState.update(poll_requested_at=now, updated_at=now)
        .where(SourceState.source_key == key)
        .execute()
    )


def find_state(key: str) -> SourceState | None:
    state: SourceState | None = SourceState.get_or_none(SourceState.source_key == key)
    return state


def set_cursor(key: str, cursor: dict[str, Any] | None, now: datetime) -> dict[str, Any] | None:
    """Operator: replace a source's cursor (None: a silent baseline next); returns the old one.

    The validators go too, so the next poll re-reads instead of hearing 304, and a poll is
    requested so the change takes effect at the worker's next tick, not in an hour.
    """
    old: dict[str, Any] | None = get_state(key).cursor
    SourceState.update(
        cursor=cursor, validators={}, poll_requested_at=now, updated_at=now
    ).where(SourceState.source_key == key).execute()
    return old


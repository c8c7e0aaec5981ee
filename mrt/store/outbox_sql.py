"""The sender's hot statements as plain SQL text, built once per shape and run with bound values.

Profiled (docs/PERFORMANCE.md, "Delivery at the limit"): peewee composing the claim's and the
marks' statements took more of the sender's time than SQLite took to run them. The texts here
are the same on SQLite and PostgreSQL but for the driver's placeholder (`?` / `%s`), which each
builder takes as `param`; a text with a list of ids is built once per length and kept.

    lease_ids(ids, owner, now, expires) -> [id]       waiting rows among ids leased, in one
                                                      UPDATE ... RETURNING
    claimed_rows(ids) -> {id: (outbox, alert, event)} what their sends need, in one joined read
    sent_ids(ids, owner, now) -> {id}                 rows this owner holds marked sent, in one
                                                      UPDATE ... RETURNING (fenced: status and
                                                      owner are checked as mark_sent does)
    insert_attempts([AttemptRecord, outcome, id])     their attempt rows, in one executemany

Values go through the models' own fields (`db_value` / `python_value`), so what is stored and
read back is what peewee would have stored and read.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from functools import cache
from typing import Any

import peewee

from mrt.store.db import bound_database, fetch_all
from mrt.store.models import Alert, Event, Outbox
from mrt.store.outbox_records import AttemptRecord, redact_common_secrets

WAITING = ("pending", "retrying")


def _at(value: datetime | None) -> Any:
    return Outbox.updated_at.db_value(value)  # naive UTC, as every datetime column holds it


def _marks(param: str, count: int) -> str:
    return ", ".join([param] * count)


@cache
def lease_sql(param: str, count: int) -> str:
    return (
        f"UPDATE outbox SET status = 'sending', lease_owner = {param}, "
        f"lease_expires_at = {param}, updated_at = {param}, folded_into = NULL "
        f"WHERE id IN ({_marks(param, count)}) AND status IN ('pending', 'retrying') "
        "RETURNING id"
    )


def lease_ids(
    ids: Collection[int], owner: str, now: datetime, expires: datetime
) -> list[int]:
    """Lease the waiting rows among `ids` to `owner`; the ids leased (others left alone)."""
    if not ids:
        return []
    db = bound_database()
    rows = fetch_all(
        db, lease_sql(db.param, len(ids)), (owner, _at(expires), _at(now), *ids)
    )
    return [int(r[0]) for r in rows]


# What a claimed row's send needs: the row, its alert's facts, its event's (outbox_lease._claimed)
OUTBOX_COLUMNS: tuple[peewee.Field, ...] = (
    Outbox.id, Outbox.alert, Outbox.channel, Outbox.target, Outbox.status, Outbox.subject,
    Outbox.body, Outbox.attempts, Outbox.created_at,
)
ALERT_COLUMNS: tuple[peewee.Field, ...] = (
    Alert.id, Alert.kind, Alert.event, Alert.fingerprint, Alert.title, Alert.source_key,
    Alert.priority, Alert.matched,
)
EVENT_COLUMNS: tuple[peewee.Field, ...] = (
    Event.id, Event.source, Event.source_key, Event.resource_type, Event.resource_id,
    Event.event_type, Event.url, Event.author,
)


@cache
def claimed_sql(param: str, count: int) -> str:
    columns = ", ".join(
        [f"o.{f.column_name}" for f in OUTBOX_COLUMNS]
        + [f"a.{f.column_name}" for f in ALERT_COLUMNS]
        + [f"e.{f.column_name}" for f in EVENT_COLUMNS]
    )
    return (
        f"SELECT {columns} FROM outbox AS o "
        "LEFT OUTER JOIN alert AS a ON a.id = o.alert_id "
        "LEFT OUTER JOIN event AS e ON e.id = a.event_id "
        f"WHERE o.id IN ({_marks(param, count)})"
    )


def _model(model: type[peewee.Model], fields: Sequence[peewee.Field], values: Sequence[Any]) -> Any:
    """A model instance of the stored values (None when the join found no row)."""
    if values[0] is None:
        return None
    found = model(__no_default__=1)  # only the columns read: no defaults filled in
    found.__data__ = {
        f.name: f.python_value(v)  # type: ignore[no-untyped-call]
        for f, v in zip(fields, values, strict=True)
    }
    return found


def claimed_rows(ids: Collection[int]) -> dict[int, tuple[Outbox, Alert | None, Event | None]]:
    """The leased rows of `ids` with their alerts and events, as model instances."""
    if not ids:
        return {}
    db = bound_database()
    found: dict[int, tuple[Outbox, Alert | None, Event | None]] = {}
    first_alert = len(OUTBOX_COLUMNS)
    first_event = first_alert + len(ALERT_COLUMNS)
    for values in fetch_all(db, claimed_sql(db.param, len(ids)), tuple(ids)):
        row = _model(Outbox, OUTBOX_COLUMNS, values[:first_alert])
        alert = _model(Alert, ALERT_COLUMNS, values[first_alert:first_event])
        event = _model(Event, EVENT_COLUMNS, values[first_event:])
        found[int(row.id)] = (row, alert, event)
    return found


@cache
def sent_sql(param: str, count: int) -> str:
    return (
        f"UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = {param}, "
        f"updated_at = {param}, lease_owner = NULL, lease_expires_at = NULL, last_error = NULL "
        f"WHERE id IN ({_marks(param, count)}) AND status = 'sending' AND lease_owner = {param} "
        "RETURNING id"
    )


def sent_ids(ids: Collection[int], owner: str, now: datetime) -> set[int]:
    """Mark the rows of `ids` that `owner` still holds sent; the ids marked."""
    if not ids:
        return set()
    db = bound_database()
    at = _at(now)
    rows = fetch_all(db, sent_sql(db.param, len(ids)), (at, at, *ids, owner))
    return {int(r[0]) for r in rows}


@cache
def attempt_sql(param: str) -> str:
    return (
        "INSERT INTO delivery_attempt (outbox_id, started_at, duration_ms, outcome, "
        "http_status, vendor_code, error_class, message) "
        f"VALUES ({_marks(param, 8)})"
    )


def insert_attempts(attempts: Sequence[tuple[int, AttemptRecord, str]]) -> None:
    """One attempt row per (outbox id, attempt, outcome), in one executemany."""
    if not attempts:
        return
    db = bound_database()
    rows = [
        (
            outbox_id, _at(a.started_at), a.duration_ms, outcome, a.http_status, a.vendor_code,
            a.error_class, redact_common_secrets(a.message) if a.message else None,
        )
        for outbox_id, a, outcome in attempts
    ]
    cursor = db.cursor()  # type: ignore[no-untyped-call]
    cursor.executemany(attempt_sql(db.param), rows)


@cache
def run_sql(param: str) -> str:
    """A target's waiting due rows from an id on, in id order: pending ones (due from their
    enqueue) and retrying ones whose time came, each on the (status, target, id) index (the
    `BETWEEN` keeps PostgreSQL off the primary key: outbox_due.py says why)."""
    rows = (
        "SELECT o.id FROM outbox AS o WHERE o.status = '{status}' "
        f"AND o.target BETWEEN {param} AND {param} AND o.id BETWEEN {param} AND {param}"
        "{due} ORDER BY o.target, o.id LIMIT " + param
    )
    pending = rows.format(status="pending", due="")
    retrying = rows.format(status="retrying", due=f" AND o.next_attempt_at <= {param}")
    return f"SELECT id FROM ({pending}) AS p UNION ALL SELECT id FROM ({retrying}) AS r"


def run_ids(target: str, first: int, below: int | None, now: datetime, count: int) -> list[int]:
    """Up to `count` of `target`'s waiting due rows from id `first` on (and below `below`), in
    id order: a run to lease together."""
    last = (below - 1) if below is not None else 2**62
    db = bound_database()
    span = (target, target, first, last)
    rows = fetch_all(db, run_sql(db.param), (*span, count, *span, _at(now), count))
    return sorted(int(r[0]) for r in rows)[:count]

"""The console's writes: each one calls the mrt core function the CLI uses, then audits it.

Run from thread workers only (ConsoleScreen.perform), inside that thread's connection.
"""

from __future__ import annotations

import getpass
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import peewee

from mrt.ops.cursor import ResetReport, ResetTarget, reset_cursor
from mrt.store.alerts import acknowledge
from mrt.store.models import AuditLog
from mrt.store.sources import request_poll
from mrt.store.views import OutboxFilter
from tui.filters import describe

ACTOR = "tui"


def operator() -> str:
    """Who is at the keyboard, for acknowledged_by (the audit actor is always "tui")."""
    try:
        return f"{ACTOR}:{getpass.getuser()}"
    except Exception:  # no user name in a bare container: still say it was the console
        return ACTOR


def _audit(
    action: str,
    params: dict[str, Any],
    *,
    reason: str | None,
    result: dict[str, Any],
    now: datetime,
) -> None:
    AuditLog.create(
        at=now, actor=ACTOR, action=action, params=params, reason=reason or None, result=result
    )


def acknowledge_alerts(alert_ids: list[int], *, now: datetime, reason: str | None = None) -> str:
    changed = acknowledge(alert_ids, by=operator(), now=now)
    _audit(
        "alert.acknowledge",
        {"alert_ids": alert_ids},
        reason=reason,
        result={"acknowledged": changed},
        now=now,
    )
    return f"Acknowledged {changed} alert(s)" if changed else "Already acknowledged"


def poll_source_now(key: str, *, now: datetime, reason: str | None = None) -> str:
    changed = request_poll(key, now)
    _audit(
        "source.poll_now",
        {"source_key": key},
        reason=reason,
        result={"requested": bool(changed)},
        now=now,
    )
    return f"Poll requested for {key}: the worker picks it up at its next tick"


def reset_source_cursor(
    db: peewee.Database,
    key: str,
    to: ResetTarget,
    *,
    now: datetime,
    backup_dir: Path | None,
    reason: str | None,
) -> ResetReport:
    return reset_cursor(db, key, to, now=now, backup_dir=backup_dir, actor=ACTOR, reason=reason)


def bulk_filter(verb: str, flt: OutboxFilter) -> OutboxFilter:
    """A bulk action without a status acts on dead letters only: never re-sends sent rows."""
    return flt if flt.status else replace(flt, status="dead")


def describe_bulk(verb: str, flt: OutboxFilter) -> str:
    return describe(bulk_filter(verb, flt))


def change_deliveries(
    verb: str,
    *,
    ids: list[int] | None,
    flt: OutboxFilter | None,
    max_id: int | None,
    now: datetime,
    reason: str | None,
) -> str:
    """Retry or discard explicit rows, or every row matching `flt` with an id up to `max_id`."""
    from mrt.store import outbox

    if ids is not None:
        selection: dict[str, Any] = {"ids": ids}
    else:
        assert flt is not None and max_id is not None
        flt = bulk_filter(verb, flt)
        selection = {"filter": describe(flt), "max_id": max_id}
    if verb == "retry":
        changed = outbox.retry(ids=ids, flt=flt, max_id=max_id, now=now)  # type: ignore[attr-defined]
    else:
        changed = outbox.discard(ids=ids, flt=flt, max_id=max_id, now=now)  # type: ignore[attr-defined]
    _audit(f"outbox.{verb}", selection, reason=reason, result={"changed": changed}, now=now)
    done = "made due now" if verb == "retry" else "discarded"
    return f"{changed} deliver{'y' if changed == 1 else 'ies'} {done}"

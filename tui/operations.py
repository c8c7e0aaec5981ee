"""The console's writes: each calls the mrt core function the CLI uses, and is audited there or
here with actor "tui". Run from thread workers only (ConsoleScreen.perform), inside that
thread's connection."""

from __future__ import annotations

import getpass
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import peewee

from mrt.store import audit
from mrt.store.alerts import acknowledge
from mrt.store.sources import request_poll
from mrt.store.views import OutboxFilter
from tui.filters import describe

# The outbox and cursor writes import their core modules when first used: the first screen
# (alerts) needs neither, and mrt.store.outbox alone costs ~40 ms of start-up.
if TYPE_CHECKING:
    from mrt.ops.cursor import ResetReport, ResetTarget
    from mrt.store import outbox

ACTOR = "tui"


class BulkFilterError(ValueError):
    """The filter has a part the core's bulk actions cannot take (free text)."""


def operator() -> str:
    """Who is at the keyboard, for acknowledged_by (the audit actor is always "tui")."""
    try:
        return f"{ACTOR}:{getpass.getuser()}"
    except Exception:  # no user name in a bare container: still say it was the console
        return ACTOR


def acknowledge_alerts(alert_ids: list[int], *, now: datetime, reason: str | None = None) -> str:
    changed = acknowledge(alert_ids, by=operator(), now=now)
    audit.record(
        ACTOR,
        "alert.acknowledge",
        {"alert_ids": alert_ids},
        reason=reason,
        result={"acknowledged": changed},
        now=now,
    )
    return f"Acknowledged {changed} alert(s)" if changed else "Already acknowledged"


def poll_source_now(key: str, *, now: datetime, reason: str | None = None) -> str:
    changed = request_poll(key, now)
    audit.record(
        ACTOR,
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
    from mrt.ops.cursor import reset_cursor

    return reset_cursor(db, key, to, now=now, backup_dir=backup_dir, actor=ACTOR, reason=reason)


def core_filter(flt: OutboxFilter) -> outbox.OutboxFilter:
    """The console's filter as the core's bulk filter (the one `mrt outbox` uses).

    Without a status a bulk action means the dead letters (as `mrt outbox retry --all-dead`):
    "discard all" never sweeps up rows that are still on their way unless asked by status.
    """
    if flt.text:
        raise BulkFilterError(
            f"bulk actions take status:, channel: and source: only (as `mrt outbox` does), "
            f"not the text {flt.text!r}: clear it, or mark rows with space"
        )
    from mrt.store import outbox

    return outbox.OutboxFilter(
        status=flt.status or "dead", channel=flt.channel or None, source_key=flt.source or None
    )


def preview_bulk(verb: str, flt: OutboxFilter) -> tuple[int, int | None]:
    """How many rows `verb` would change now, and the id ceiling the action will run with."""
    from mrt.store import outbox

    return outbox.preview(core_filter(flt), action=verb)


def describe_bulk(verb: str, flt: OutboxFilter) -> str:
    status = flt.status or "dead"
    others = describe(replace(flt, status=""))
    return f"{status} rows" + (f" matching {others}" if others else "")


def change_deliveries(
    verb: str,
    *,
    ids: list[int] | None,
    flt: OutboxFilter | None,
    max_id: int | None,
    now: datetime,
    reason: str | None,
) -> str:
    """Retry or discard explicit rows, or every row matching `flt` with an id up to `max_id`
    (the ceiling frozen when the operator saw the count). The core function audits it."""
    from mrt.store import outbox

    if ids is not None:
        selection: list[int] | outbox.OutboxFilter = ids
    else:
        assert flt is not None and max_id is not None
        selection = core_filter(flt)
    if verb == "retry":
        changed = outbox.retry(selection, now=now, max_id=max_id, actor=ACTOR, reason=reason)
    else:
        changed = outbox.discard(selection, now, max_id=max_id, actor=ACTOR, reason=reason)
    done = "made due now" if verb == "retry" else "discarded"
    return f"{changed} deliver{'y' if changed == 1 else 'ies'} {done}"

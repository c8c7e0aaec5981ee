"""The console's writes: each is one call into mrt.ops (the same function the CLI calls, which
writes the audit record) with actor "tui", and the sentence the status line shows. Run from
thread workers only (ConsoleScreen.perform), inside that thread's connection."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import peewee

from mrt.ops import alerts as alert_ops
from mrt.ops import sources as source_ops
from mrt.store.views import OutboxFilter
from tui.filters import describe

# The outbox and cursor writes import their modules when first used: the first screen (alerts)
# needs neither.
if TYPE_CHECKING:
    from mrt.ops.cursor import ResetReport, ResetTarget

ACTOR = "tui"


def acknowledge_alerts(alert_ids: list[int], *, now: datetime, reason: str | None = None) -> str:
    changed = alert_ops.acknowledge(alert_ids, now=now, actor=ACTOR, reason=reason)
    return f"Acknowledged {changed} alert(s)" if changed else "Already acknowledged"


def unacknowledge_alerts(
    alert_ids: list[int], *, now: datetime, reason: str | None = None
) -> str:
    changed = alert_ops.unacknowledge(alert_ids, now=now, actor=ACTOR, reason=reason)
    return f"Unacknowledged {changed} alert(s)" if changed else "Not acknowledged: nothing to undo"


def poll_source_now(key: str, *, now: datetime, reason: str | None = None) -> str:
    source_ops.poll_now(key, now=now, actor=ACTOR, reason=reason)
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
    from mrt.ops import cursor as cursor_ops

    return cursor_ops.reset_cursor(
        db, key, to, now=now, backup_dir=backup_dir, actor=ACTOR, reason=reason
    )


def preview_bulk(verb: str, flt: OutboxFilter) -> tuple[int, int | None]:
    """How many rows `verb` would change now, and the id ceiling the action will run with.
    Raises mrt.ops.outbox.BulkFilterError for a filter a bulk action does not take."""
    from mrt.ops import outbox

    return outbox.preview(outbox.bulk_filter(flt), action=verb)


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
    (the ceiling frozen when the operator saw the count)."""
    from mrt.ops import outbox

    refused: list[str] = []
    if ids is not None:
        selection: list[int] | OutboxFilter = ids
        refused = outbox.refusals(verb, ids)  # the reasons `mrt outbox retry ID` prints
    else:
        assert flt is not None and max_id is not None
        selection = outbox.bulk_filter(flt)
    act = outbox.retry if verb == "retry" else outbox.discard
    changed = act(selection, now=now, max_id=max_id, actor=ACTOR, reason=reason)
    done = "made due now" if verb == "retry" else "discarded"
    said = f"{changed} deliver{'y' if changed == 1 else 'ies'} {done}"
    return "; ".join([said, *refused])

"""The operator's outbox: list, count, preview, retry and discard (both writes audited here).

`mrt outbox` and the console's deliveries screen call these. A selection is either explicit ids
or one `OutboxFilter` (mrt.store.views: the one filter type, which the console's list uses too);
a bulk action takes the id ceiling its preview showed (`max_id`), so rows that arrive between
the question and the answer are never swept up. Rows are `OutboxRow`, the one row type.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import peewee

from mrt.errors import MrtError
from mrt.store import audit
from mrt.store.db import bound_database, write_transaction
from mrt.store.models import Outbox
from mrt.store.outbox_records import (
    DISCARDABLE,
    RETRYABLE,
    STATUSES,
)
from mrt.store.views.outbox import (
    OutboxFilter,
    OutboxRow,
    get_outbox_rows,
    outbox_condition,
)

__all__ = [
    "DISCARDABLE",
    "RETRYABLE",
    "STATUSES",
    "BulkFilterError",
    "OutboxFilter",
    "OutboxRow",
    "bulk_filter",
    "discard",
    "preview",
    "retry",
]

Selection = Sequence[int] | OutboxFilter


class BulkFilterError(MrtError):
    """A bulk action was given a filter part it does not take (free text)."""


def bulk_filter(flt: OutboxFilter) -> OutboxFilter:
    """The filter the console's "all matching" runs with: without a status it means the dead letters (as
    `mrt outbox retry --all-dead`), so "discard all" never sweeps up rows still on their way
    unless asked by status. Free text is refused: an operator bulk action names its rows."""
    if flt.text:
        raise BulkFilterError(
            f"bulk actions take status:, channel: and source: only (as `mrt outbox` does), "
            f"not the text {flt.text!r}: clear it, or mark rows with space",
            title="Bulk filter",
        )
    return flt if flt.status else replace(flt, status="dead")


def _select_for(
    selection: Selection, statuses: Sequence[str], max_id: int | None
) -> peewee.ModelSelect[Outbox]:
    query = Outbox.select(Outbox.id).where(Outbox.status.in_(list(statuses)))
    if isinstance(selection, OutboxFilter):
        query = query.where(outbox_condition(selection))
    else:
        query = query.where(Outbox.id.in_([int(i) for i in selection]))
    if max_id is not None:
        query = query.where(Outbox.id <= max_id)
    return query


def preview(selection: Selection, *, action: str = "retry") -> tuple[int, int | None]:
    """How many rows `retry`/`discard` would touch now, and the id ceiling to pass them."""
    statuses = RETRYABLE if action == "retry" else DISCARDABLE
    ids = [int(r.id) for r in _select_for(selection, statuses, None)]
    return len(ids), (max(ids) if ids else None)


def retry(
    selection: Selection,
    *,
    now: datetime,
    actor: str,
    max_id: int | None = None,
    reason: str | None = None,
) -> int:
    """Dead/retrying rows become pending and due now (attempts kept); audited "outbox.retry"."""
    return _operate(selection, "retry", now=now, max_id=max_id, actor=actor, reason=reason)


def discard(
    selection: Selection,
    *,
    now: datetime,
    actor: str,
    max_id: int | None = None,
    reason: str | None = None,
) -> int:
    """Unsent rows (not in flight) become discarded, never sent; audited "outbox.discard"."""
    return _operate(selection, "discard", now=now, max_id=max_id, actor=actor, reason=reason)


def refusals(action: str, ids: Sequence[int]) -> list[str]:
    """Why `action` ("retry"/"discard") would leave each of `ids` alone now, one line per row
    it would refuse (the CLI and the console both say these words)."""
    allowed = RETRYABLE if action == "retry" else DISCARDABLE
    verb = "retried" if action == "retry" else "discarded"
    rows = get_outbox_rows(ids)
    lines = []
    for outbox_id in dict.fromkeys(int(i) for i in ids):
        row = rows.get(outbox_id)
        if row is None:
            lines.append(f"#{outbox_id}: no such delivery")
        elif row.status not in allowed:
            lines.append(f"#{outbox_id} is {row.status}: only {' or '.join(allowed)} "
                         f"deliveries can be {verb}")
    return lines


def _operate(
    selection: Selection,
    action: str,
    *,
    now: datetime,
    max_id: int | None,
    actor: str,
    reason: str | None,
) -> int:
    statuses = RETRYABLE if action == "retry" else DISCARDABLE
    with write_transaction(bound_database()):
        ids = [int(r.id) for r in _select_for(selection, statuses, max_id)]
        if ids:
            fields: dict[str, Any] = {"updated_at": now}
            if action == "retry":
                fields.update(status="pending", next_attempt_at=now)
            else:
                fields.update(status="discarded",
                              last_error=f"discarded by {actor}" + (f": {reason}" if reason else ""))
            Outbox.update(**fields).where(
                Outbox.id.in_(ids) & Outbox.status.in_(list(statuses))
            ).execute()
        params: dict[str, Any] = {"max_id": max_id}
        if isinstance(selection, OutboxFilter):
            params["filter"] = selection.as_params()
        else:
            params["ids"] = [int(i) for i in selection]
        audit.record(actor, f"outbox.{action}", params, reason=reason,
                     result={"count": len(ids), "ids": ids[:1000]}, now=now)
    return len(ids)

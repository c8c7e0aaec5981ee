"""Quarantined upstream items: what a source kept aside, and what `mrt sources` and the console
show of it.

A source returns its bad items with the poll (mrt/source_kit/items.py); the runner records them
in the cycle's transaction. An item seen again (the cursor's overlap re-reads it, or it changed
and is still bad) updates its row: last seen, count, latest reason. Only an item never seen
before is news, and `record` returns those so the operators are told once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

import peewee

from mrt.store.models import QuarantinedItem


class Kept(Protocol):
    """What a source reports of a bad item (mrt.source_kit.contract.Quarantined; the store does not
    import the sources, its neighbours)."""

    @property
    def item_key(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def raw(self) -> dict[str, Any]: ...
    @property
    def upstream_id(self) -> str | None: ...
    @property
    def url(self) -> str | None: ...


K = TypeVar("K", bound=Kept)


@dataclass(frozen=True, slots=True)
class QuarantineSummary:
    """One source's quarantined items: how many, and the newest one's reason."""

    count: int
    latest_reason: str
    latest_at: datetime


def record(source_key: str, items: Sequence[K], now: datetime) -> list[K]:
    """Store or refresh each item; return the ones never seen before (in the order given)."""
    if not items:
        return []
    by_key = {item.item_key: item for item in items}
    known = {
        row.item_key
        for row in QuarantinedItem.select(QuarantinedItem.item_key).where(
            (QuarantinedItem.source_key == source_key)
            & QuarantinedItem.item_key.in_(list(by_key))
        )
    }
    fresh: list[K] = []
    for key, item in by_key.items():
        if key in known:
            QuarantinedItem.update(
                reason=item.reason,
                raw=item.raw,
                upstream_id=item.upstream_id,
                url=item.url,
                last_seen_at=now,
                count=QuarantinedItem.count + 1,
            ).where(
                (QuarantinedItem.source_key == source_key) & (QuarantinedItem.item_key == key)
            ).execute()
            continue
        QuarantinedItem.create(
            source_key=source_key,
            item_key=key,
            upstream_id=item.upstream_id,
            url=item.url,
            reason=item.reason,
            raw=item.raw,
            first_seen_at=now,
            last_seen_at=now,
            count=1,
        )
        fresh.append(item)
    return fresh


def summaries(keys: Iterable[str] | None = None) -> dict[str, QuarantineSummary]:
    """Per source: the number of quarantined items and the most recently seen one's reason."""
    query = QuarantinedItem.select(
        QuarantinedItem.source_key, QuarantinedItem.reason, QuarantinedItem.last_seen_at
    ).order_by(QuarantinedItem.last_seen_at.desc(), QuarantinedItem.id.desc())
    counts = QuarantinedItem.select(
        QuarantinedItem.source_key, peewee.fn.COUNT(QuarantinedItem.id).alias("n")
    ).group_by(QuarantinedItem.source_key)
    if keys is not None:
        wanted = list(keys)
        query = query.where(QuarantinedItem.source_key.in_(wanted))
        counts = counts.where(QuarantinedItem.source_key.in_(wanted))
    totals = _counts(counts)
    found: dict[str, QuarantineSummary] = {}
    # newest first: the first row of each source is its latest
    for row in query.iterator():
        if row.source_key not in found:
            found[row.source_key] = QuarantineSummary(
                totals.get(row.source_key, 0), row.reason, row.last_seen_at
            )
        if len(found) == len(totals):
            break
    return found


def items(source_key: str | None = None, limit: int = 100) -> list[QuarantinedItem]:
    """The most recently seen quarantined items, newest first."""
    query = QuarantinedItem.select().order_by(
        QuarantinedItem.last_seen_at.desc(), QuarantinedItem.id.desc()
    )
    if source_key is not None:
        query = query.where(QuarantinedItem.source_key == source_key)
    return list(query.limit(limit))


def first_seen_between(since: datetime, until: datetime) -> dict[str, int]:
    """Items first quarantined in a window, per source (for the metrics report)."""
    query = (
        QuarantinedItem.select(
            QuarantinedItem.source_key, peewee.fn.COUNT(QuarantinedItem.id).alias("n")
        )
        .where(
            (QuarantinedItem.first_seen_at >= since) & (QuarantinedItem.first_seen_at <= until)
        )
        .group_by(QuarantinedItem.source_key)
    )
    return _counts(query)


def _counts(query: Any) -> dict[str, int]:
    """(source_key, count) rows as a dict (peewee's stubs type rows as model instances)."""
    return {str(key): int(n or 0) for key, n in query.tuples()}

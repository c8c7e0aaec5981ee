"""Every observed event, matched or not, newest first: `mrt events` and the console's Events screen.

A year of history is a million rows, so a page is a keyset read and never a count or a sort of
the table: without a decision filter one walk down the primary key (`id < :last ORDER BY id
DESC LIMIT n`, with `source_key = ?` on its index, whose entries are in id order too); with one
(`--matched`, `--unmatched`) one such read per decision on the decision index, the pages merged
here. Each read costs about `limit` index entries at any table size, even when matching events
are rare. Only the columns a list shows are read (not the raw payload).

What a decision means in words is mrt.ops.explain.explain_decision, as for `mrt trace`.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import peewee

from mrt.store.models import Event
from mrt.store.views._sql import tuples

# A rule matched: it was told, muted or folded into something told.
MATCHED_DECISIONS = ("notify", "aggregate", "digest", "suppress", "silenced", "deduped", "tag")
# No rule decided: nothing matched, the source's first poll, v0 had seen it, processing failed.
UNMATCHED_DECISIONS = ("none", "baseline", "seen_by_v0", "failed")


@dataclass(frozen=True, slots=True)
class EventFilter:
    source: str = ""  # an exact source key
    matched: bool | None = None  # True: a rule matched; False: none did; None: every event

    def is_empty(self) -> bool:
        return not self.source and self.matched is None

    def decisions(self) -> tuple[str, ...] | None:
        if self.matched is None:
            return None
        return MATCHED_DECISIONS if self.matched else UNMATCHED_DECISIONS


@dataclass(frozen=True, slots=True)
class EventRow:
    id: int
    fingerprint: str
    observed_at: datetime
    source_key: str
    event_type: str
    resource_id: str
    title: str
    url: str
    author: str
    decision: str
    decision_detail: dict[str, Any]
    error: str | None
    silence: dict[str, Any] | None  # the silence that muted it, as recorded: id, reason


_COLUMNS = (
    Event.id, Event.fingerprint, Event.observed_at, Event.source_key, Event.event_type,
    Event.resource_id, Event.title, Event.url, Event.author, Event.decision,
    Event.decision_detail, Event.error, Event.silence,
)


def _row(r: Event) -> EventRow:
    detail = dict(r.decision_detail) if isinstance(r.decision_detail, dict) else {}
    stored = detail.get("silence")
    silence_id = r.__data__.get("silence")
    silence = dict(stored) if isinstance(stored, dict) else None
    if silence is None and silence_id is not None:
        silence = {"id": int(silence_id)}
    return EventRow(
        id=int(r.id), fingerprint=str(r.fingerprint), observed_at=r.observed_at,
        source_key=str(r.source_key), event_type=str(r.event_type),
        resource_id=str(r.resource_id), title=str(r.title), url=str(r.url or ""),
        author=str(r.author or ""), decision=str(r.decision), decision_detail=detail,
        error=r.error, silence=silence,
    )


def id_query(
    flt: EventFilter, decision: str | None, *, before_id: int | None, after_id: int | None,
    limit: int,
) -> peewee.ModelSelect[Event]:
    """The ids of one keyset read, newest first (public for the query-plan test)."""
    cond: peewee.Expression = peewee.Value(1) == 1
    if flt.source:
        cond &= Event.source_key == flt.source
    if decision is not None:
        cond &= Event.decision == decision
    if before_id is not None:
        cond &= Event.id < before_id
    if after_id is not None:
        cond &= Event.id > after_id
    return Event.select(Event.id).where(cond).order_by(Event.id.desc()).limit(limit)


def _ids(
    flt: EventFilter, *, before_id: int | None, after_id: int | None, limit: int
) -> list[int]:
    decisions: Sequence[str | None] = flt.decisions() or (None,)
    reads = [
        [int(r[0]) for r in tuples(id_query(flt, d, before_id=before_id, after_id=after_id,
                                            limit=limit))]
        for d in decisions
    ]
    return list(heapq.merge(*reads, reverse=True))[:limit]


def _rows(ids: list[int]) -> list[EventRow]:
    if not ids:
        return []
    found = {int(r.id): r for r in Event.select(*_COLUMNS).where(Event.id.in_(ids))}
    return [_row(found[i]) for i in ids if i in found]


def events_page(
    flt: EventFilter | None = None, *, before_id: int | None = None, limit: int = 100
) -> list[EventRow]:
    """One page, newest first; the next page starts below the last row's id."""
    return _rows(_ids(flt or EventFilter(), before_id=before_id, after_id=None, limit=limit))


def events_newer(flt: EventFilter | None, after_id: int, *, limit: int = 100) -> list[EventRow]:
    """Events stored since the newest one shown (`after_id`), newest first."""
    return _rows(_ids(flt or EventFilter(), before_id=None, after_id=after_id, limit=limit))

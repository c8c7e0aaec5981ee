"""Silences as the console's Silences screen lists them: active first, then ended, newest first
within each, with how many events each one muted (Event.silence, indexed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import peewee

from mrt.store.models import Event, Silence
from mrt.store.silences import ends_at, is_active
from mrt.store.views._sql import tuples


@dataclass(frozen=True, slots=True)
class SilenceRow:
    id: int
    matcher: dict[str, Any]
    created_at: datetime
    expires_at: datetime
    ends_at: datetime  # when it stopped (or stops) matching: expiry or early end
    expired_early_at: datetime | None
    created_by: str
    reason: str | None
    active: bool
    suppressed: int  # events it muted (stored with decision "silenced")


def silence_rows(now: datetime, *, limit: int = 500) -> list[SilenceRow]:
    """The newest `limit` silences, active ones first; each with its muted-event count."""
    found = list(Silence.select().order_by(Silence.id.desc()).limit(limit))
    ids = [int(s.id) for s in found]
    counts: dict[int, int] = {}
    if ids:
        query = (
            Event.select(Event.silence, peewee.fn.COUNT(Event.id))
            .where(Event.silence.in_(ids))
            .group_by(Event.silence)
        )
        counts = {int(k): int(n) for k, n in tuples(query)}
    rows = [
        SilenceRow(
            id=int(s.id),
            matcher=dict(s.matcher) if isinstance(s.matcher, dict) else {},
            created_at=s.created_at,
            expires_at=s.expires_at,
            ends_at=ends_at(s),
            expired_early_at=s.expired_early_at,
            created_by=str(s.created_by),
            reason=s.reason,
            active=is_active(s, now),
            suppressed=counts.get(int(s.id), 0),
        )
        for s in found
    ]
    return sorted(rows, key=lambda r: not r.active)  # stable: newest first within each

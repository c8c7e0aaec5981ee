"""Reading stored events back for dry runs (`mrt rules test`) and explanations."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from mrt.events import TrackerEvent
from mrt.store.models import Alert, AlertEvent, Event


def events_observed_since(
    since: datetime, *, until: datetime | None = None, batch_size: int = 1000
) -> Iterator[Event]:
    """Stored events observed in [since, until), oldest first, fetched in batches by id."""
    last_id = 0
    while True:
        query = Event.select().where((Event.observed_at >= since) & (Event.id > last_id))
        if until is not None:
            query = query.where(Event.observed_at < until)
        rows = list(query.order_by(Event.id).limit(batch_size))
        if not rows:
            return
        yield from rows
        last_id = rows[-1].id


def alerted_event_ids(since: datetime) -> set[int]:
    """Ids of events observed since `since` that became an alert, alone or as a member."""
    ids: set[int] = set()
    for link, column in ((Alert, Alert.event), (AlertEvent, AlertEvent.event)):
        query = (
            Event.select(Event.id)
            .join(link, on=(column == Event.id))
            .where(Event.observed_at >= since)
        )
        ids.update(int(row.id) for row in query)
    return ids


def tracker_event(row: Event) -> TrackerEvent:
    """The TrackerEvent a stored row was made from (what the rules saw)."""
    return TrackerEvent(
        source=row.source,
        source_key=row.source_key,
        resource_type=row.resource_type,
        resource_id=row.resource_id,
        event_type=row.event_type,
        event_id=row.event_id,
        title=row.title,
        summary=row.summary or "",
        url=row.url or "",
        author=row.author or "",
        labels=tuple(row.labels or ()),
        occurred_at=row.occurred_at,
        observed_at=row.observed_at,
        details=dict(row.details or {}),
        raw=dict(row.raw or {}),
        legacy_fingerprint=row.legacy_fingerprint,
    )

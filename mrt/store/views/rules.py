"""Stored events as a rules dry run reads them (the same as `mrt rules test`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from mrt.rules.dryrun import StoredEvent
from mrt.store.history import alerted_event_ids, events_observed_since, tracker_event


def stored_for_dry_run(since: datetime) -> Iterator[StoredEvent]:
    """Every event observed since `since`, oldest first, in batches, with its stored decision
    and whether it became an alert."""
    alerted = alerted_event_ids(since)
    for row in events_observed_since(since):
        yield StoredEvent(tracker_event(row), row.decision, row.id in alerted)

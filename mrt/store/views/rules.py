"""Stored events as a rules dry run reads them (the same rows for `mrt rules test` and the
console's rules screen). The view returns rows; the caller runs the dry run
(mrt.rules.dryrun.stored_events turns them into what run_rules_test reads)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import NamedTuple

from mrt.events import TrackerEvent
from mrt.store.history import alerted_event_ids, events_observed_since, tracker_event


class DecidedEvent(NamedTuple):
    event: TrackerEvent
    decision: str  # what was stored (notify | none | baseline | ...)
    alerted: bool  # it became an alert, alone or as a member


def decided_events_since(since: datetime) -> Iterator[DecidedEvent]:
    """Every event observed since `since`, oldest first, in batches, with its stored decision
    and whether it became an alert."""
    alerted = alerted_event_ids(since)
    for row in events_observed_since(since):
        yield DecidedEvent(tracker_event(row), row.decision, row.id in alerted)

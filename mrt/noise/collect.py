"""What a cycle's aggregate, digest and deduped decisions leave in the store.

Runs inside the cycle's write transaction, after its events were inserted: a crash either
loses the whole cycle (the next one sees the events again) or keeps the events together with
their bucket membership, digest item or dedupe link. Nothing waits in memory.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from mrt.store import noise
from mrt.store.cycle import PlannedEvent

log = logging.getLogger(__name__)

COLLECTED = ("aggregate", "digest", "deduped")


@dataclass(slots=True)
class CollectCounts:
    aggregated: int = 0
    digested: int = 0
    deduped: int = 0


def collect_cycle(planned: Sequence[PlannedEvent], now: datetime) -> CollectCounts:
    """Bucket aggregated events, queue digest items and link deduped events to their alert.

    Events stored before this cycle with another decision (a repeat seen under older rules)
    are left alone: the stored decision is what the store acts on.
    """
    counts = CollectCounts()
    wanted = [p for p in planned if p.decision in COLLECTED]
    if not wanted:
        return counts
    stored = noise.stored_decisions(p.event.fingerprint for p in wanted)
    for p in wanted:
        found = stored.get(p.event.fingerprint)
        if found is None or found[1] != p.decision:
            continue
        event_id = found[0]
        detail = p.detail
        if p.decision == "aggregate":
            noise.add_to_bucket(
                event_id,
                str(detail.get("group_key") or _default_group_key(p)),
                [str(c) for c in detail.get("channels") or ()],
                int(detail.get("window_minutes") or 1),
                now,
            )
            counts.aggregated += 1
        elif p.decision == "digest":
            noise.add_digest_item(str(detail.get("digest")), event_id, now)
            counts.digested += 1
        else:
            alert_id = detail.get("deduped_into_alert")
            if alert_id is None:
                alert_id = noise.event_alert_id(str(detail.get("deduped_into")))
            if alert_id is None:  # folded into an event that never became an alert
                log.warning("deduped event %s has no alert to fold into", p.event.fingerprint)
                continue
            noise.record_fold(event_id, int(alert_id))
            counts.deduped += 1
    return counts


def _default_group_key(p: PlannedEvent) -> str:
    e = p.event
    return f"source={e.source}|resource_id={e.resource_id}|event_type={e.event_type}"

"""Time-window dedupe: a resource updated again and again inside the window alerts once.

With `aggregation.dedupe_window_minutes` > 0, an event that would notify about a resource
(source_key + resource_id) that already alerted less than the window ago, or earlier in the
same cycle, is stored with decision "deduped" and linked to that alert instead of alerting
again. The window is fixed from the alert: the first update after it ends alerts again, so a
resource that keeps changing is reported once per window, never silenced for good.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from mrt.store import noise
from mrt.store.cycle import PlannedEvent


def fold_repeats(
    planned: list[PlannedEvent], window_minutes: int, now: datetime
) -> list[PlannedEvent]:
    """`planned` with repeated notifications of one resource inside the window folded away."""
    if window_minutes <= 0:
        return planned
    since = now - timedelta(minutes=window_minutes)
    alerting: dict[tuple[str, str], str] = {}  # resource -> fingerprint alerting this cycle
    result: list[PlannedEvent] = []
    for p in planned:
        if p.decision != "notify" or p.alert is None:
            result.append(p)
            continue
        resource = (p.event.source_key, p.event.resource_id)
        detail = {**p.detail, "dedupe_window_minutes": window_minutes}
        if resource in alerting:
            detail["deduped_into"] = alerting[resource]
        else:
            earlier = noise.recent_resource_alert(*resource, since)
            if earlier is None:
                alerting[resource] = p.event.fingerprint
                result.append(p)
                continue
            detail["deduped_into"] = earlier.fingerprint
            detail["deduped_into_alert"] = earlier.alert_id
        result.append(replace(p, decision="deduped", detail=detail, alert=None))
    return result

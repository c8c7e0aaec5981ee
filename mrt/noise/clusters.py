"""AI3 in a cycle: each new event gets its topic cluster in `details.cluster` before the rules
see it, so an aggregation grouped by `details.cluster` folds one topic seen on several sources
(the weights, their serving PR, a mirror) into one message.

    assign_clusters(config, events, now)     when aggregation.cluster_window_minutes > 0

The clustering is lexical (mrt.ai.clusters: no model, the same with AI on or off): an event
joins the cluster of the most similar event stored within the window (or earlier in its own
batch) when the similarity reaches `aggregation.cluster_threshold`, else starts its own. The
id is stored with the event (its details), so it never changes; two sources' cycles that see
the same topic at the same moment may each start a cluster (each cycle reads what was
committed before it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from mrt.ai.clusters import ClusterItem, assign
from mrt.config import Config
from mrt.events import TrackerEvent
from mrt.store import ai_cache

CLUSTER_DETAIL = "cluster"


def assign_clusters(config: Config, events: Sequence[TrackerEvent], now: datetime) -> None:
    """Set `details.cluster` on each event that has none (in place, before the rules run)."""
    window = config.aggregation.cluster_window_minutes
    fresh = [e for e in events if not e.details.get(CLUSTER_DETAIL)]
    if window <= 0 or not fresh:
        return
    recent = [
        ClusterItem.of(r.fingerprint, r.title, r.cluster)
        for r in ai_cache.recent_clusters(now - timedelta(minutes=window))
    ]
    items = [ClusterItem.of(e.fingerprint, e.title) for e in fresh]
    for event, cluster in zip(
        fresh, assign(items, recent, config.aggregation.cluster_threshold), strict=True
    ):
        event.details[CLUSTER_DETAIL] = cluster

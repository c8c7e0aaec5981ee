"""What the worker calls every tick: flush ended aggregation windows and fired digests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import peewee

from mrt.alerting import Renderer
from mrt.delivery.base import Target
from mrt.noise.aggregate import flush_due_aggregates
from mrt.noise.digest import flush_due_digests


@dataclass(frozen=True, slots=True)
class FlushReport:
    aggregates: int = 0  # alerts made from ended windows
    digests: int = 0  # digests sent

    @property
    def alerts(self) -> int:
        return self.aggregates + self.digests


def flush_due(
    db: peewee.Database,
    renderer: Renderer,
    targets: Mapping[str, list[Target]],
    now: datetime,
) -> FlushReport:
    """Everything due at `now`; cheap when nothing is (indexed lookups, no transaction)."""
    return FlushReport(
        aggregates=flush_due_aggregates(db, targets, renderer, now),
        digests=flush_due_digests(db, renderer, targets, now),
    )

"""What the worker calls every tick: flush ended aggregation windows and fired digests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import peewee

from mrt.config import Config
from mrt.delivery.base import Target
from mrt.noise.aggregate import Renderer, flush_due_aggregates
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
    config: Config,
    targets: Mapping[str, list[Target]],
    render: Renderer,
    now: datetime,
) -> FlushReport:
    """Everything due at `now`; cheap when nothing is (indexed lookups, no transaction)."""
    return FlushReport(
        aggregates=flush_due_aggregates(db, targets, render, now),
        digests=flush_due_digests(db, config, targets, now),
    )

"""Retention in the daemon: prune by `observability.retention_days_*` every
`observability.retention_every_minutes` (0: never; `mrt db prune` still does it by hand).

The pruning itself is mrt.store.maintenance.prune: small batches, each its own short write
transaction, so a cycle or a send waits at most one batch for the write lock. It runs in a
thread (never on the loop: a cycle is never blocked), pauses briefly between batches so other
writers get their turn, and stops between batches when the worker is told to stop. What an
operator still needs is never pruned: queued deliveries, dead letters until discarded, their
alerts and events, unsent digest items and open aggregation windows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import peewee

from mrt.config import Config
from mrt.store.db_errors import explain_error, unavailable_kind
from mrt.store.maintenance import PruneCounts, prune

log = logging.getLogger("mrt.worker")

CHECK_SECONDS = 30.0  # how often the daemon asks whether a run is due
RETRY_AFTER = timedelta(minutes=5)  # after a failed run
BATCH_PAUSE_SECONDS = 0.02  # between batches: the scheduler's and senders' writes go first


class Interrupted(Exception):
    """The worker is stopping: the run ends after the batch it was on."""


@dataclass
class Retention:
    """When the next run is due; `run_due(now)` is the testable step."""

    next_at: datetime | None = None  # None: due now (the first run comes at start)

    def due(self, config: Config, now: datetime) -> bool:
        every = config.observability.retention_every_minutes
        return every > 0 and (self.next_at is None or now >= self.next_at)

    def run_due(
        self,
        db: peewee.Database,
        config: Config,
        now: datetime,
        *,
        between_batches: Callable[[], None] | None = None,
        target: str | None = None,
    ) -> PruneCounts | None:
        """Prune when due, then schedule the next run; None when not due. A failure is
        logged and tried again at the next run, never raised into the worker."""
        if not self.due(config, now):
            return None
        obs = config.observability
        self.next_at = now + timedelta(minutes=obs.retention_every_minutes)
        try:
            counts = prune(
                db,
                now=now,
                event_days=obs.retention_days_events,
                alert_days=obs.retention_days_alerts,
                between_batches=between_batches,
            )
        except Interrupted:
            return None
        except Exception as exc:
            self.next_at = now + min(RETRY_AFTER, timedelta(minutes=obs.retention_every_minutes))
            when = self.next_at.isoformat(timespec="seconds")
            if unavailable_kind(exc) is not None:
                # locked, read-only, full, gone: the daemon's DatabaseWatch tells the operators
                # once per episode; this is only why pruning waits
                log.info("retention: the database is unavailable; pruning again at %s", when)
            else:
                log.error("retention: pruning failed, tried again at %s: %s",
                          when, explain_error(exc, target))
            return None
        if any(counts.as_dict().values()):
            log.info(
                "retention: pruned %d alerts, %d events, %d delivery attempts, %d cycle metrics",
                counts.alerts, counts.events, counts.delivery_attempts, counts.cycle_metrics,
            )
        return counts


async def run_retention(
    db: peewee.Database,
    config: Callable[[], Config],
    stop: asyncio.Event,
    now: Callable[[], datetime],
    *,
    target: str | None = None,
) -> None:
    """The daemon's task: each CHECK_SECONDS, a due run in a thread. The first check comes at
    once (a worker restarted after a week away catches up)."""
    retention = Retention()

    def pause_or_stop() -> None:
        if stop.is_set():
            raise Interrupted
        time.sleep(BATCH_PAUSE_SECONDS)

    while True:
        at, current = now(), config()
        if retention.due(current, at):
            await asyncio.to_thread(
                retention.run_due, db, current, at, between_batches=pause_or_stop, target=target
            )
        if stop.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=CHECK_SECONDS)


def start_retention(
    db: peewee.Database,
    config: Callable[[], Config],
    stop: asyncio.Event,
    now: Callable[[], datetime],
    target: str | None = None,
) -> asyncio.Task[None]:
    return asyncio.get_running_loop().create_task(
        run_retention(db, config, stop, now, target=target), name="mrt-retention"
    )

"""Starts each source's cycle when it is due; a testable `tick(now)`.

Sources run concurrently, each at most once at a time; the next due time lives in the database
(SourceState.next_poll_at), so a restart keeps the rhythm instead of polling everything at once.

Several workers on one database: a cycle starts only with the source's lease
(mrt/store/leases.py), renewed while the cycle runs (each daemon turn, and while `tick` waits)
and fenced at its commit; a cycle that ends without committing gives the lease back.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import datetime

import peewee

from mrt.events import utcnow
from mrt.pipeline import CycleReport, Engine, run_source_cycle
from mrt.source_kit.contract import SourceSpec
from mrt.store import leases, sources
from mrt.store.db_errors import unavailable_phrase

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(
        self,
        engine: Engine,
        specs: list[SourceSpec],
        now: datetime,
        *,
        owner: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.specs = {spec.key: spec for spec in specs}
        self.running: dict[str, asyncio.Task[CycleReport]] = {}
        # what the leases are held under: the worker id and this scheduler (a reload's new
        # scheduler must not take the leases of the old one's cycles that still run)
        self.owner = f"{owner or 'scheduler'}/{uuid.uuid4().hex[:6]}"
        self.leases: dict[str, leases.Lease] = {}  # of the running cycles
        self.lease_seconds = float(engine.config.state.source_lease_seconds)
        self.clock = clock  # renewals while `tick` waits for long cycles
        # the daemon's DatabaseWatch.failed: a cycle that died of an unavailable database
        # (its transaction rolled back; the source stays due) is reported there, not here
        self.on_database_error: Callable[[str, BaseException], bool] | None = None
        sources.ensure_states(((s.key, s.plugin) for s in specs), now)

    def start_due(self, now: datetime) -> list[asyncio.Task[CycleReport]]:
        """Start a cycle for every due source that is not running here and whose lease this
        worker takes (no other worker polls it now); first renew the running cycles' leases."""
        self.renew(now)
        started = []
        idle = [key for key in self.specs if key not in self.running]
        for lease in leases.take_due(idle, self.owner, now, self.lease_seconds):
            key = lease.source_key
            self.leases[key] = lease
            task = asyncio.create_task(
                run_source_cycle(self.engine, self.specs[key], now, lease), name=key
            )
            self.running[key] = task
            task.add_done_callback(lambda t, k=key: self._finished(k, t))  # type: ignore[misc]
            started.append(task)
        return started

    def renew(self, now: datetime) -> None:
        """Keep the running cycles' leases: each is renewed once a third of it has passed.
        One lost (this worker stalled past its expiry and another took it) is said; that
        cycle's commit is then refused by the fence."""
        for key, lease in list(self.leases.items()):
            if (lease.expires_at - now).total_seconds() > self.lease_seconds * 2 / 3:
                continue
            renewed = leases.renew(lease, now, self.lease_seconds)
            if renewed is None:
                log.warning(
                    "%s: lease lost to another worker while polling", key,
                    extra={"source_key": key},
                )
                del self.leases[key]
            else:
                self.leases[key] = renewed

    def _release(self, key: str) -> None:
        """A finished cycle's lease goes back (a commit already released it: then a no-op)."""
        lease = self.leases.pop(key, None)
        if lease is None:
            return
        try:
            leases.release(lease)
        except Exception as exc:  # the database is away: the lease simply expires
            log.warning("%s: the lease was not given back (%s); it expires by itself", key, exc)

    def release_all(self) -> int:
        """On shutdown, after `drain`: give back the leases of cycles that did not finish, so
        the other workers poll those sources now, not when the leases expire. A cycle still
        running cannot commit afterwards: its fence finds the lease gone."""
        held = list(self.leases)
        for key in held:
            self._release(key)
        return len(held)

    def _finished(self, key: str, task: asyncio.Task[CycleReport]) -> None:
        self.running.pop(key, None)
        self._release(key)
        if task.cancelled():
            return
        exc = task.exception()
        waiting = self.on_database_error
        if exc is None:
            # a cycle that reports its failure instead of raising it: the database's own words
            # in its error say whether it was the database (then the watch backs off for it)
            report = task.result()
            phrase = unavailable_phrase(report.error) if report.outcome == "failed" else None
            if waiting is not None and phrase is not None:
                waiting(f"the cycle of {key}", peewee.OperationalError(phrase))
            return
        if waiting is not None and waiting(f"the cycle of {key}", exc):
            return
        # run_source_cycle records source failures itself; this is a bug or the database
        log.error("cycle of %s crashed: %r", key, exc, extra={"source_key": key})

    async def tick(self, now: datetime) -> list[CycleReport]:
        """Start what is due and wait for those cycles (for --once and tests)."""
        tasks = self.start_due(now)
        pending: set[asyncio.Task[CycleReport]] = set(tasks)
        while pending:  # a long poll keeps its lease while we wait
            _, pending = await asyncio.wait(pending, timeout=self.lease_seconds / 3)
            if pending:
                self.renew(self.clock())
        results = await asyncio.gather(*tasks, return_exceptions=True)
        # a cycle records its own failures; one that still crashed is reported, never dropped
        return [
            r
            if isinstance(r, CycleReport)
            else CycleReport(task.get_name(), "failed", error=_crash(r))
            for task, r in zip(tasks, results, strict=True)
        ]

    async def drain(self, timeout: float) -> None:
        """On shutdown: let running cycles finish (they commit or roll back as a whole)."""
        if self.running:
            await asyncio.wait(list(self.running.values()), timeout=timeout)


def _crash(exc: BaseException) -> str:
    detail = f": {exc}" if str(exc) else ""
    return f"the cycle crashed: {type(exc).__name__}{detail}"

"""Starts each source's cycle when it is due; a testable `tick(now)`.

Sources run concurrently, each at most once at a time; the next due time lives in the database
(SourceState.next_poll_at), so a restart keeps the rhythm instead of polling everything at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

import peewee

from mrt.pipeline import CycleReport, Engine, run_source_cycle
from mrt.source_kit.contract import SourceSpec
from mrt.store import sources
from mrt.store.db_errors import unavailable_phrase

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, engine: Engine, specs: list[SourceSpec], now: datetime) -> None:
        self.engine = engine
        self.specs = {spec.key: spec for spec in specs}
        self.running: dict[str, asyncio.Task[CycleReport]] = {}
        # the daemon's DatabaseWatch.failed: a cycle that died of an unavailable database
        # (its transaction rolled back; the source stays due) is reported there, not here
        self.on_database_error: Callable[[str, BaseException], bool] | None = None
        sources.ensure_states(((s.key, s.plugin) for s in specs), now)

    def start_due(self, now: datetime) -> list[asyncio.Task[CycleReport]]:
        """Start a cycle for every due source that is not already running."""
        started = []
        for key in sources.due_keys(self.specs, now):
            if key in self.running:
                continue
            task = asyncio.create_task(
                run_source_cycle(self.engine, self.specs[key], now), name=key
            )
            self.running[key] = task
            task.add_done_callback(lambda t, k=key: self._finished(k, t))  # type: ignore[misc]
            started.append(task)
        return started

    def _finished(self, key: str, task: asyncio.Task[CycleReport]) -> None:
        self.running.pop(key, None)
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

"""The worker's AI step: triage (mrt.ai_triage), then summaries, after a cycle's commit.

    ai = AiWorker(config=lambda: rt.config, env=rt.env, engine=lambda: rt.engine, db=rt.db)
    ai.hold_new(now)          quick, in the sender's task right before each claim: new first
                              tries wait (at most ai.summary_wait_seconds) instead of going plain
    await ai.fill(now)        the slow part, in its own task (daemon) or before the sends (--once)
    await ai.aclose()

Off unless the config turns AI on with an endpoint (AiConfig.active); summaries unless
`ai.summaries` is false, triage for the alerts of `triage:` rules. One client lives across passes, so its per-minute budget and its
counters (calls, tokens, fallbacks, cache hits) are the worker's; a reload with other AI settings
gets a new one. Whatever fails here, the alerts go out with their plain text (mrt.ai_hooks).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import peewee

from mrt.ai.usage import AiSettings
from mrt.config import Config, secret_values
from mrt.pipeline import Engine
from mrt.secrets import Scrubber

if TYPE_CHECKING:  # imported by the first pass with AI on: a worker without AI never needs them
    from mrt.ai_hooks import SummaryReport, SummaryStep
    from mrt.ai_triage import TriageStep

log = logging.getLogger("mrt.worker")

PASS_SECONDS = 1.0  # how often the daemon looks for alerts waiting for a summary


@dataclass
class AiWorker:
    """The AI passes of one worker: one client across passes, none while AI is off."""

    config: Callable[[], Config]
    env: Mapping[str, str]
    engine: Callable[[], Engine]
    db: peewee.Database
    _settings: AiSettings | None = field(default=None, init=False)
    _step: SummaryStep | None = field(default=None, init=False)
    _triage: TriageStep | None = field(default=None, init=False)  # AI4, before the summaries
    _done: set[int] = field(default_factory=set, init=False)
    _closing: set[asyncio.Task[None]] = field(default_factory=set, init=False)

    def _current(self) -> SummaryStep | None:
        config = self.config()
        settings = AiSettings.from_config(config.ai, self.env)
        if settings is None:
            self._retire()
            return None
        if self._step is None or settings != self._settings:
            self._retire()
            from mrt.ai.client import AiClient
            from mrt.ai_hooks import SummaryStep
            from mrt.ai_triage import TriageStep

            engine = self.engine()
            self._settings = settings
            scrubber = Scrubber(secret_values(config, self.env))
            # the engine's counters, kept across reloads: the log and /metrics read them
            client = AiClient(settings, usage=engine.ai_usage)
            self._step = SummaryStep(
                config, client, engine.renderer, lambda: self.engine().targets,
                self.db, scrubber, self._done,
            )
            self._triage = TriageStep(config, client, self.db, scrubber)
        self._step.config = config  # a reload's wait bound and prompt size, same client
        self._step.renderer = self.engine().renderer
        if self._triage is not None:
            self._triage.config = config
            self._triage.leave_held = config.ai.summaries
        return self._step

    def _retire(self) -> None:
        if self._step is not None:
            client = self._step.client
            self._step = self._settings = self._triage = None
            with contextlib.suppress(RuntimeError):  # no loop: nothing left to close
                task = asyncio.get_running_loop().create_task(client.aclose())
                self._closing.add(task)  # held until done: a task nobody holds may vanish
                task.add_done_callback(self._closing.discard)

    def hold_new(self, at: datetime) -> None:
        """New first tries wait for their summary (never past the bound); never raises."""
        step = self._current()
        if step is None:
            return
        try:
            if self._triage is not None:
                self._triage.hold_new(at)
            if step.config.ai.summaries:
                step.hold_new(at)
        except Exception as exc:  # the database: the sender's own claim will say so
            log.debug("holding alerts for their AI summary failed: %s", exc)

    async def fill(self, now: Callable[[], datetime]) -> SummaryReport | None:
        """One pass of AI1 over the alerts waiting to be sent; never raises for AI's sake."""
        step = self._current()
        if step is None:
            return None
        try:  # triage first: a low score moves the alert to its digest, unsummarised
            if self._triage is not None:
                routed = await self._triage.run(now)
                if routed.instant or routed.digested or routed.fallback:
                    log.info("AI triage: %d at once, %d to their digest, %d by the rule's plain "
                             "decision", routed.instant, routed.digested, routed.fallback)
            if not step.config.ai.summaries:
                return None
            report = await step.run(now)
        except Exception as exc:  # the database, most likely: held rows are due at the bound
            log.error("AI step failed: %s", step.scrubber(f"{type(exc).__name__}: {exc}"))
            return None
        if report.summarised or report.plain:
            counters = step.client.usage.snapshot()
            log.info(
                "AI summaries: %d sent with a summary, %d with their plain text (%d from the "
                "cache); %s", report.summarised, report.plain, report.cache_hits,
                ", ".join(f"{k} {v}" for k, v in counters.items()),
            )
        return report

    async def run(self, stop: asyncio.Event, now: Callable[[], datetime]) -> None:
        """The daemon's AI task, until `stop`."""
        while not stop.is_set():
            await self.fill(now)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=PASS_SECONDS)

    async def aclose(self) -> None:
        if self._step is not None:
            await self._step.client.aclose()
            self._step = self._settings = self._triage = None

"""The worker's AI step: summaries filled in after a cycle's commit, before its sends.

Off unless the config turns AI on with an endpoint (mrt.config AiConfig.active) and summaries
(`ai.summaries`, the default when AI is on). Whatever fails here, the alerts go out with their
plain text (mrt.ai_hooks); the counters (calls, tokens, fallbacks, cache hits) are logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from mrt.ai.client import AiClient, AiSettings
from mrt.ai_hooks import SummaryStep
from mrt.config import secret_values
from mrt.secrets import Scrubber

if TYPE_CHECKING:
    from worker.runtime import Runtime

log = logging.getLogger("mrt.worker")


async def fill_summaries(rt: Runtime, now: Callable[[], datetime]) -> None:
    """One pass of AI1 over the alerts waiting to be sent; never raises for AI's sake."""
    settings = AiSettings.from_config(rt.config.ai, rt.env)
    if settings is None or not rt.config.ai.summaries:
        return
    scrubber = Scrubber(secret_values(rt.config, rt.env))
    async with AiClient(settings) as client:
        step = SummaryStep(
            rt.config, client, rt.engine.renderer, lambda: rt.engine.targets, rt.db, scrubber
        )
        try:
            report = await step.run(now)
        except Exception as exc:  # the database, most likely: the rows were released or expire
            log.error("AI summaries step failed: %s", scrubber(f"{type(exc).__name__}: {exc}"))
            return
        counters = client.usage.snapshot()
    if report.summarised or report.plain:
        log.info(
            "AI summaries: %d sent with a summary, %d with their plain text (%d from the cache); "
            "%s", report.summarised, report.plain, report.cache_hits,
            ", ".join(f"{k} {v}" for k, v in counters.items()),
        )

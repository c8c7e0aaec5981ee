"""Waking the daemon's idle sender when news is stored, instead of at its next tick.

The sender loop (worker/runtime.py) waits on one asyncio.Event with its idle timeout; a cycle
that commits deliveries (when its task ends), a GitHub webhook delivery that stored alerts
(worker/webhooks.py), a flush of aggregates and digests, and the `wake_senders` command set it.
A woken sender that finds nothing it may claim (a target's budget refuses) waits again: the
event is cleared before each round, and the wait is never shorter than MIN_WAIT_SECONDS.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from mrt.cycle_outcome import CycleReport

if TYPE_CHECKING:  # the sender is imported when the outbox is first sent
    from mrt.delivery.sender import Sender

MIN_WAIT_SECONDS = 0.01  # the shortest idle wait for a budget's next token


def after(cycles: list[asyncio.Task[CycleReport]], wake: asyncio.Event) -> None:
    """A cycle that commits deliveries wakes the senders when it ends."""
    for task in cycles:
        task.add_done_callback(partial(_if_delivering, wake))


def _if_delivering(wake: asyncio.Event, task: asyncio.Task[CycleReport]) -> None:
    if not task.cancelled() and task.exception() is None and task.result().deliveries:
        wake.set()


async def wait_for_news(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> bool:
    """Wait up to `seconds` for news to send (`wake`) or the stop; True when woken."""
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
    return wake.is_set()


def idle_seconds(sender: Sender, at: datetime, idle: float) -> float:
    """How long an idle sender waits unless woken: `idle`, or less when a target's budget (or
    spacing) gives its next token sooner; never 0, so a row its budget refuses cannot spin."""
    free_at = sender.next_free_at(at)
    if free_at is None:
        return idle
    return min(idle, max(MIN_WAIT_SECONDS, (free_at - at).total_seconds()))

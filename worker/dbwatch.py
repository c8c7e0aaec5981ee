"""Waiting out an unavailable database: locked by another process, disk full, read-only, I/O.

A 24x7 worker must not die of a database that is unavailable for a while. Every database touch
of the worker loop (heartbeat, commands, cycles, the sender's claims and marks) reports such an
error here instead of raising. One `DatabaseWatch` turns them into episodes:

- the first failure of an episode is logged once, as an ERROR that says which database, what is
  wrong and what to do; later failures of the same kind only at DEBUG;
- the loop backs off (1 s, 2 s, 4 s ... up to `backoff_max`, one step per retry, however many
  touches failed meanwhile) and touches the database again only
  when `waiting(now)` says so; whatever failed was rolled back and is simply done again (a cycle
  polls again and its fingerprints dedupe; a claim is retried; a send's result is recorded as
  soon as the database accepts it, so it is neither lost nor sent twice);
- the operators are told once per episode through the same notice as a failing source (an
  alert on `observability.ops_channels`), written as soon as the database accepts it;
- the episode ends, with one WARNING line, when writes have gone through for `settle_seconds`
  with no failure in between.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

import peewee

from mrt.alerting import ops_notice
from mrt.config import Config
from mrt.delivery.base import Message, Target
from mrt.events import utcnow
from mrt.store.db import write_transaction
from mrt.store.db_errors import explain, unavailable_kind

if TYPE_CHECKING:  # the sender is imported when the outbox is first sent
    from mrt.delivery.sender import StoreRunner

log = logging.getLogger("mrt.worker")

_T = TypeVar("_T")

BACKOFF_BASE_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 10.0  # a heartbeat write every 10 s at most: cheap, and quick to resume
SETTLE_SECONDS = 30.0


@dataclass
class Episode:
    started_at: datetime
    kind: str
    explanation: str
    last_failure_at: datetime
    failures: int = 1
    noticed: bool = False  # the operators' notice is in the outbox
    ok_since: datetime | None = None  # the first success after the last failure
    places: set[str] = field(default_factory=set)


Notify = Callable[[str, datetime], None]


class DatabaseWatch:
    def __init__(
        self,
        target: str,
        notify: Notify,
        *,
        backoff_max: float = BACKOFF_MAX_SECONDS,
        settle_seconds: float = SETTLE_SECONDS,
    ) -> None:
        self.target = target
        self.notify = notify
        self.backoff_max = backoff_max
        self.settle_seconds = settle_seconds
        self.episode: Episode | None = None
        self.episodes = 0  # how many began, for tests and the final log line
        self._streak = 0
        self._next_try: datetime | None = None

    def failed(self, where: str, exc: BaseException, now: datetime) -> bool:
        """Note a failed database touch; False when `exc` is no unavailable database (the
        caller handles it as before)."""
        kind = unavailable_kind(exc)
        if kind is None:
            return False
        text = explain(exc, self.target)
        episode = self.episode
        if episode is None:
            self.episode = Episode(now, kind, text, now, places={where})
            self.episodes += 1
            log.error(
                "%s (at %s). The worker waits and retries, backing off up to %g s, and "
                "carries on when the database is writable again; nothing is lost",
                text, where, self.backoff_max,
            )
        else:
            episode.failures += 1
            episode.last_failure_at = now
            episode.ok_since = None
            episode.places.add(where)
            if kind != episode.kind:  # a new cause is news (locked, then the disk filled)
                episode.kind, episode.explanation = kind, text
                log.error("%s (at %s); still waiting and retrying", text, where)
            else:
                log.debug("database still unavailable at %s: %s", where, text)
        if self._next_try is not None and now < self._next_try:
            return True  # another touch failing during the same wait: no further backoff
        self._streak += 1
        delay = min(self.backoff_max, BACKOFF_BASE_SECONDS * 2 ** min(self._streak - 1, 16))
        self._next_try = now + timedelta(seconds=delay)
        return True

    def succeeded(self, now: datetime) -> None:
        """A write went through. The backoff stays until the episode settles: a small write
        may pass on a full disk while a cycle's does not, and that cycle must not be retried
        (and its source polled) every second."""
        if self.episode is not None and self.episode.ok_since is None:
            self.episode.ok_since = now

    def waiting(self, now: datetime) -> bool:
        return self._next_try is not None and now < self._next_try

    def wait_seconds(self, now: datetime) -> float:
        if self._next_try is None:
            return 0.0
        return max(0.0, (self._next_try - now).total_seconds())

    def settle(self, now: datetime) -> None:
        """Once a loop turn: write the operators' notice when the database lets us, and end
        an episode that has been quiet for `settle_seconds`."""
        episode = self.episode
        if episode is None or self.waiting(now):
            return
        if not episode.noticed:
            try:
                self.notify(self._notice(episode), now)
            except Exception as exc:
                if not self.failed("the operators' notice", exc, now):
                    log.error("writing the operators' notice failed: %s", exc)
                    episode.noticed = True  # a bug, not the database: do not retry forever
                return
            episode.noticed = True
            self.succeeded(now)
        ok_since = episode.ok_since
        if ok_since is not None and (now - ok_since).total_seconds() >= self.settle_seconds:
            log.warning(
                "%s accepts writes again after %.0f s (%d failed attempts at %s); carrying on",
                self.target_text(), (episode.last_failure_at - episode.started_at).total_seconds(),
                episode.failures, ", ".join(sorted(episode.places)),
            )
            self.episode = None
            self._streak = 0
            self._next_try = None

    def target_text(self) -> str:
        from mrt.store.db_errors import describe

        return describe(self.target)

    def _notice(self, episode: Episode) -> str:
        return (
            f"MRT worker: {episode.explanation}. First seen at "
            f"{episode.started_at:%Y-%m-%d %H:%M:%S} UTC; the worker waits, retries and "
            "carries on when the database is writable again, without losing or repeating "
            "anything. Details in the worker's log."
        )


def ops_notice_writer(
    db: peewee.Database, config: Callable[[], Config], targets: Callable[[], Mapping[str, list[Target]]]
) -> Notify:
    """The operators' notice, as `mrt.pipeline` writes one for a failing source: an alert with
    one outbox row per target of `observability.ops_channels` (default: every channel)."""

    def notify(text: str, now: datetime) -> None:
        current = targets()
        message = Message(subject=text.split(":")[0], body=text)
        with write_transaction(db):
            ops_notice(
                config(), current, message, title=text, kind="worker_health",
                tags=("database",), now=now,
            )

    return notify


def waiting_store_runner(
    watch: DatabaseWatch,
    stop: asyncio.Event,
    *,
    grace_seconds: float,
    now: Callable[[], datetime] = utcnow,
) -> StoreRunner:
    """The sender's store calls, in a thread, waiting out an unavailable database.

    A claim or a mark that fails is retried after the watch's backoff until it goes through:
    a send that happened is recorded once the database accepts it, never repeated. After a
    stop request it keeps trying for `grace_seconds` more, then gives up (the row's lease
    expires and the row is sent again: a send in flight at the stop)."""

    async def run(fn: Callable[[], _T], /) -> _T:
        give_up_at: datetime | None = None
        while True:
            try:
                result = await asyncio.to_thread(fn)
            except Exception as exc:
                at = now()
                if stop.is_set():
                    give_up_at = give_up_at or at + timedelta(seconds=grace_seconds)
                if not watch.failed("the sender", exc, at) or (give_up_at and at >= give_up_at):
                    raise
                await asyncio.sleep(max(0.05, watch.wait_seconds(at)))
                continue
            return result

    return run

"""The sending engine: claim due outbox rows, send each to its target, record what happened.

Driven by the clock it is given (`run_once(now)`), so tests and the worker control time. Up to
`delivery.senders` sends run at once, never two to one target at a time. Each target has a
rate budget (mrt/delivery/budget.py: a token bucket in the database, shared by every sender of
every worker) and is claimed only when its bucket gives a token; a burst its budget cannot let
out within `delivery.fold_after_seconds` goes out folded into one message (mrt/delivery/fold.py).
A throttle answer empties the target's bucket and defers the row without counting an attempt.
A target covered by an explicit `min_interval_seconds` keeps the old fixed spacing instead: the
sender remembers when it last sent to it and does not claim its rows before the spacing passed.
A claim may lease a run of a target's next due rows (mrt/delivery/runs.py): they go out one
after another, each once the one before is recorded, so a target still has one send in flight.
A failure of one target is that target's row state and nothing else: other targets keep going.
A send callable that raises becomes a failed attempt; nothing escapes `run_once`.

The database calls are short synchronous transactions; the sends are awaited concurrently.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol, TypeVar

import peewee

from mrt.config import Config
from mrt.delivery.base import Message, SendOutcome, Target
from mrt.delivery.budget import budgets_for
from mrt.delivery.fold import fold_message
from mrt.delivery.runs import Runs
from mrt.delivery.send_report import DeliveryResult, Finished, SendReport, scrub
from mrt.retry import RetryPolicy
from mrt.store import outbox, outbox_fold
from mrt.store.outbox import AttemptRecord, ClaimedDelivery
from mrt.store.outbox_claim import Budget, BudgetClaim, claim_within_budgets
from mrt.store.outbox_marks import Mark, record_marks, record_then_claim

# What a round reports lives in send_report.py; importable from here as before.
__all__ = [
    "DeliveryResult", "Finished", "SendReport", "Sender", "StoreRunner", "run_inline", "scrub",
]

log = logging.getLogger("mrt.delivery.sender")

SendCallable = Callable[[Target, Message, float], Awaitable[SendOutcome]]
# After a send finishes, how long to wait for others to finish too, so that their marks share
# one write (profiled: the store's statements, not the sends, bound the drain rate).
BATCH_WINDOW_SECONDS = 0.005
# A target's rows leased in one claim at most (a run: sent one after another, each once the one
# before is recorded; outbox_claim.py). Fewer claims per message; a crash leaves the rest of a
# run waiting for its lease to expire, then they go back untried.
RUN_MAX = 16
_T = TypeVar("_T")


class StoreRunner(Protocol):
    """How the sender runs its (short, synchronous) store calls: inline by default; the worker
    may pass `asyncio.to_thread` so a writer holding SQLite's lock never stalls the event loop."""

    def __call__(self, fn: Callable[[], _T], /) -> Awaitable[_T]: ...


async def run_inline(fn: Callable[[], _T], /) -> _T:
    return fn()


class Sender:
    def __init__(
        self,
        config: Config,
        targets: Mapping[str, list[Target]],
        send: SendCallable,
        owner: str,
        rng: random.Random | None = None,
        *,
        store_runner: StoreRunner = run_inline,
    ) -> None:
        self.config = config
        self.owner = owner
        self.policy = RetryPolicy.from_config(config.delivery, rng)
        self._send = send
        self._store = store_runner
        self._last_send: dict[str, datetime] | None = None  # target key -> last claim time
        self._targets: dict[tuple[str, str], Target] = {}
        self._spacing: dict[str, float] = {}
        self._budgets: dict[str, Budget] = {}
        self._budget_free_at: datetime | None = None  # when a budget-refused target has a token
        self._folded_at: dict[str, datetime] = {}  # target key -> when a claim last folded
        self._stopping = False
        self.update_targets(targets)

    def stop_claiming(self) -> None:
        """Graceful shutdown, step one: claim nothing more; sends in flight finish and record.

        Then wait for the running run_once/run_until_idle (cancelling it after the grace period
        cancels its sends too) and call `release(now)` to give back what is still leased."""
        self._stopping = True

    def update_targets(self, targets: Mapping[str, list[Target]]) -> None:
        """Swap in a reloaded set of targets (SIGHUP); spacing memory is kept."""
        self._targets = {(name, t.key): t for name, ts in targets.items() for t in ts}
        for name, ts in targets.items():  # rows queued under a target's former key
            for t in ts:
                for key in t.previous_keys:
                    self._targets.setdefault((name, key), t)
        self._budgets = budgets_for(self.config, targets)
        self._spacing = {}
        for (channel, key), target in self._targets.items():
            seconds = self._interval_for(channel, target)
            self._spacing[key] = max(seconds, self._spacing.get(key, 0.0))

    def _interval_for(self, channel: str, target: Target) -> float:
        if target.min_interval_seconds is not None:
            return float(target.min_interval_seconds)
        channel_config = self.config.channels.get(channel)
        if channel_config is not None and channel_config.min_interval_seconds is not None:
            return float(channel_config.min_interval_seconds)
        return float(self.config.delivery.min_interval_seconds)

    def spacing_for(self, target_key: str) -> float:
        if target_key in self._budgets:
            return 0.0  # its budget paces it
        return self._spacing.get(target_key, float(self.config.delivery.min_interval_seconds))

    def _last_sends(self) -> dict[str, datetime]:
        if self._last_send is None:
            self._last_send = {}
        return self._last_send

    async def _load_last_sends(self) -> None:
        if self._last_send is None:
            # A restarted sender keeps the spacing its predecessor started.
            self._last_send = await self._store(outbox.last_attempt_by_target)

    def _resting_targets(self, now: datetime) -> set[str]:
        return {
            key
            for key, last in self._last_sends().items()
            if now < last + timedelta(seconds=self.spacing_for(key))
        }

    def next_free_at(self, now: datetime) -> datetime | None:
        """The earliest moment a resting target may be sent to again (None: none is resting)."""
        times = [
            last + timedelta(seconds=self.spacing_for(key))
            for key, last in self._last_sends().items()
        ]
        if self._budget_free_at is not None:
            times.append(self._budget_free_at)
        waiting = [t for t in times if t > now]
        return min(waiting) if waiting else None

    async def run_once(self, now: datetime) -> SendReport:
        """Send everything due at `now` that spacing allows; returns what happened."""
        return await self._drain(lambda: now)

    async def run_until_idle(
        self,
        now_fn: Callable[[], datetime],
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> SendReport:
        """`--once`: keep sending until nothing is due any more, waiting out target spacing."""
        report = SendReport()
        while True:
            round_report = await self._drain(now_fn)
            report.merge(round_report)
            if round_report.claim_error or self._stopping:
                return report
            now = now_fn()
            try:
                due = await self._store(partial(outbox.count_due, now))
            except peewee.PeeweeException as exc:
                report.claim_error = f"{type(exc).__name__}: {exc}"
                return report
            if due == 0:
                return report
            free_at = self.next_free_at(now)
            if free_at is None:
                if round_report.claimed == 0:
                    return report  # due rows held by another sender: theirs to finish
                continue
            await sleep(max(0.0, (free_at - now).total_seconds()))

    async def _drain(self, now_fn: Callable[[], datetime]) -> SendReport:
        report = SendReport()
        in_flight: dict[asyncio.Task[Finished], ClaimedDelivery] = {}
        runs = Runs()  # rows leased with those in flight, to send after them
        capacity = self.config.delivery.senders
        try:
            await self._load_last_sends()
        except peewee.PeeweeException as exc:
            report.claim_error = f"{type(exc).__name__}: {exc}"
            return report
        carried: list[ClaimedDelivery] | None = None  # claimed with the last marks
        while True:
            occupied = {c.target for c in in_flight.values()} | runs.targets()
            if carried is not None or (capacity > len(occupied) and not self._stopping):
                now = now_fn()
                if carried is not None:
                    claimed, carried = carried, None
                else:
                    busy = occupied | self._resting_targets(now)
                    try:
                        call = self._claim(now, capacity - len(occupied), busy)
                        claimed = self._claimed(await self._store(call), now)
                    except peewee.PeeweeException as exc:
                        capacity, claimed = 0, []
                        self._claim_failed(report, exc)
                report.claimed += len(claimed)
                for row in runs.start(claimed):
                    self._start(row, now, in_flight)
            if not in_flight:
                await self._give_back(runs.give_up(), now_fn())  # stopping: back untried
                return report
            try:
                done, pending = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                if pending:  # sends finishing within a few ms are recorded with these: one write
                    more, _ = await asyncio.wait(pending, timeout=BATCH_WINDOW_SECONDS)
                    done |= more
            except asyncio.CancelledError:
                # Shutdown past its grace period: stop the sends too; release() frees their rows.
                for task in in_flight:
                    task.cancel()
                await asyncio.gather(*in_flight, return_exceptions=True)
                raise
            finished = [task.result() for task in done]
            for task in done:
                in_flight.pop(task)
            now = now_fn()
            # A run goes on only after a send that went out; the rest of one that failed (the
            # target is down, or throttles) goes back to waiting, in the marks' transaction.
            give_back = runs.stop_failed(finished, self._stopping)
            occupied = {c.target for c in in_flight.values()} | runs.targets()
            claim: Callable[[], object] | None = None
            if capacity > len(occupied) and not self._stopping:  # shares the marks' write
                busy = occupied | self._resting_targets(now)
                claim = self._claim(now, capacity - len(occupied), busy)
            results, got = await self._record(finished, now, claim, give_back)
            for result in results:
                report.add(result)
            if isinstance(got, peewee.PeeweeException):
                capacity = 0
                self._claim_failed(report, got)
            elif got is not None:
                carried = self._claimed(got, now)
            now = now_fn()
            starting, back = runs.next_rows(
                results, now, self.config.delivery.send_timeout_seconds, self._stopping
            )
            await self._give_back(back, now)
            for row in starting:
                self._start(row, now, in_flight)

    def _start(
        self, row: ClaimedDelivery, now: datetime, in_flight: dict[asyncio.Task[Finished],
                                                                    ClaimedDelivery]
    ) -> None:
        self._last_sends()[row.target] = now
        in_flight[asyncio.ensure_future(self._deliver(row, now))] = row

    async def _give_back(self, ids: list[int], now: datetime) -> None:
        if not ids:
            return
        try:
            await self._store(partial(outbox.release, self.owner, now, ids))
        except peewee.PeeweeException as exc:  # their leases expire; then they are due again
            log.error("giving back %d leased rows failed: %s: %s", len(ids),
                      type(exc).__name__, exc)

    def _claim_failed(self, report: SendReport, exc: peewee.PeeweeException) -> None:
        # Stop claiming, but let the sends in flight finish and record themselves.
        report.claim_error = f"{type(exc).__name__}: {exc}"
        log.error("claiming due deliveries failed: %s", report.claim_error)

    def _claim(self, now: datetime, free: int, busy: set[str]) -> Callable[[], object]:
        """The store call claiming up to `free` rows at `now` (`_claimed` reads its answer)."""
        delivery = self.config.delivery
        if not self._budgets:  # every target spaced the old way
            return partial(
                outbox.claim_due, self.owner, now, limit=free,
                lease_seconds=delivery.lease_seconds, exclude_targets=busy,
                one_per_target=True, policy=self.policy,
            )
        recent = now - timedelta(seconds=delivery.fold_after_seconds)
        self._folded_at = {k: at for k, at in self._folded_at.items() if at > recent}
        return partial(
            claim_within_budgets, self.owner, now, limit=free,
            lease_seconds=delivery.lease_seconds, budgets_by_target=self._budgets,
            exclude_targets=busy, policy=self.policy,
            fold_after=delivery.fold_after_seconds, folding=set(self._folded_at), run=RUN_MAX,
        )

    def _claimed(self, got: object, now: datetime) -> list[ClaimedDelivery]:
        if isinstance(got, BudgetClaim):
            self._folded_at.update((row.target, now) for row in got.rows if row.folded)
            wait = got.wait_seconds
            self._budget_free_at = None if wait is None else now + timedelta(seconds=wait)
            return got.rows
        return list(got) if isinstance(got, list) else []

    async def _deliver(self, row: ClaimedDelivery, started: datetime) -> Finished:
        target = self._targets.get((row.channel, row.target))
        timeout = self.config.delivery.send_timeout_seconds
        message = row.message
        if row.folded and target is not None:
            message, listed = fold_message(row, target.max_length)
            left = [m.id for m in row.folded if m.id not in listed]
            if left:  # no room in this message: they wait for the next one
                await self._store(partial(outbox_fold.unfold, row.id, self.owner, left, started))
        clock = time.perf_counter()
        if target is None:
            outcome = SendOutcome(
                ok=False,
                retryable=True,
                error_class="TargetGone",
                message=self._gone_message(row),
            )
            secrets: tuple[str, ...] = ()
        else:
            secrets = (*target.secrets, target.url)
            outcome = await self._send_safely(target, message, timeout)
        attempt = AttemptRecord(
            started_at=started,
            duration_ms=int((time.perf_counter() - clock) * 1000),
            http_status=outcome.http_status,
            vendor_code=outcome.vendor_code,
            error_class=outcome.error_class,
            message=scrub(outcome.message, secrets),
            throttled=outcome.throttled,
        )
        return Finished(row, outcome, attempt, secrets)

    def _gone_message(self, row: ClaimedDelivery) -> str:
        if not any(channel == row.channel for channel, _ in self._targets):
            return f"channel {row.channel} is not configured any more"
        return f"channel {row.channel} has no target {row.target} any more"

    async def _send_safely(self, target: Target, message: Message, timeout: float) -> SendOutcome:
        try:
            # The one send timeout (delivery.send_timeout_seconds). A plugin also gets it for
            # its own sockets, but only this wait bounds a send whatever the far side does.
            async with asyncio.timeout(timeout):  # no extra task per send, unlike wait_for
                return await self._send(target, message, timeout)
        except TimeoutError:
            return SendOutcome(
                ok=False, error_class="Timeout", message=f"no answer within {timeout:g} s"
            )
        except Exception as exc:  # the send contract says "never raises"; a plugin bug still might
            return SendOutcome(ok=False, error_class=type(exc).__name__, message=str(exc))

    async def _record(
        self, finished: list[Finished], now: datetime, claim: Callable[[], object] | None = None,
        give_back: list[int] | None = None,
    ) -> tuple[list[DeliveryResult], object]:
        """Record the sends that finished together in one transaction (outbox_marks), with the
        rows of runs given back and the next claim when there is one: (results, what the claim
        returned, or its error)."""
        marks = [self._mark_of(f) for f in finished]
        back = give_back or []
        got: object = None
        try:
            if claim is None:
                statuses = await self._store(
                    partial(record_marks, marks, self.owner, now, self.policy, back)
                )
            else:
                statuses, got = await self._store(
                    partial(record_then_claim, marks, self.owner, now, self.policy, claim, back)
                )
        except Exception as exc:  # a store failure must not kill the other sends
            statuses = [exc] * len(finished)
            await self._give_back(back, now)  # rolled back with the marks: once more alone
        results = [self._result(f, status) for f, status in zip(finished, statuses, strict=True)]
        return results, got

    def _mark_of(self, done: Finished) -> Mark:
        row, outcome = done.row, done.outcome
        budget = self._budgets.get(row.target)
        return Mark(
            row.id, done.attempt, ok=outcome.ok, retryable=outcome.retryable,
            retry_after=outcome.retry_after, carried=bool(row.folded),
            throttled_budget=(budget.key, budget.rate)
            if outcome.throttled and budget is not None else None,
        )

    def _result(self, done: Finished, status: str | Exception) -> DeliveryResult:
        row = done.row
        fields = {
            "outbox_id": row.id, "alert_id": row.alert_id, "channel": row.channel,
            "target": row.target, "source_key": row.source_key, "fingerprint": row.fingerprint,
        }
        if isinstance(status, Exception):
            log.error(
                "recording delivery failed: %s: %s", type(status).__name__,
                scrub(str(status), done.secrets), extra=fields,
            )
            return DeliveryResult(row.id, row.channel, row.target, "lease_lost", "not recorded")
        if done.outcome.ok:
            log.info("delivered to %s %s", row.channel, row.target, extra=fields)
            return DeliveryResult(row.id, row.channel, row.target, status)
        error = outbox.describe_failure(done.attempt)
        log.warning("delivery to %s %s %s: %s", row.channel, row.target, status, error,
                    extra=fields)
        return DeliveryResult(row.id, row.channel, row.target, status, error)

    def release(self, now: datetime) -> int:
        """Graceful shutdown: give back the leases of rows this sender has not finished."""
        return outbox.release(self.owner, now)

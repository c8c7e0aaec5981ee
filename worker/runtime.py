"""The running worker: runs a Runtime (worker/assembly.py builds it) once or until told to stop.

--once    one cycle of every source (due or not), then deliver what is due, then exit
--daemon  the scheduler, the senders and the command queue until SIGTERM/SIGINT;
          SIGHUP reloads the config; systemd hears READY, WATCHDOG and STOPPING
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from mrt import __version__
from mrt.config import (
    secret_values,
)
from mrt.events import utcnow
from mrt.pipeline import CycleReport
from mrt.store import sources, workers
from mrt.store.db_errors import explain, explain_error, unavailable_kind
from worker import wake
from worker.ai_step import AiWorker
from worker.assembly import (  # building and reloading a Runtime
    Runtime,
    new_sender,
    reload,
)
from worker.dbwatch import DatabaseWatch, ops_notice_writer, waiting_store_runner

if TYPE_CHECKING:  # worker.health (prometheus_client) is imported when its endpoint starts
    from worker.health import Endpoint

log = logging.getLogger("mrt.worker")

HEARTBEAT_SECONDS = 10.0
IDLE_SECONDS = 1.0


async def run_once(rt: Runtime, now: Callable[[], datetime] = utcnow) -> list[CycleReport]:
    """v0's --once: every source polls now (due or not), then everything due is delivered."""
    at = now()
    for key in rt.scheduler.specs:
        sources.request_poll(key, at)
    reports = await rt.scheduler.tick(at)
    flush_noise(rt, now())
    ai = AiWorker(lambda: rt.config, rt.env, lambda: rt.engine, rt.db)
    try:  # AI1, when on: after the commit, before the sends
        await ai.fill(now)
    finally:
        await ai.aclose()
    rt.last_send = await rt.sender.run_until_idle(now)
    _beat(rt, now())
    workers.mark_stopped(rt.worker_id, now())
    return reports


def flush_noise(rt: Runtime, now: datetime) -> None:
    """Aggregation windows that ended and digests whose schedule fired become outbox rows."""
    from mrt.noise.flush import flush_due  # after the cycles: not before the first request

    try:
        report = flush_due(rt.db, rt.engine.renderer, rt.engine.targets, now)
    except Exception as exc:  # must not stop the loop; the next tick tries again
        if rt.watch is None or not rt.watch.failed("flushing aggregates and digests", exc, now):
            log.error("flushing aggregates and digests failed: %s", explain_error(exc, rt.database))
        return
    if report.alerts:
        rt.wake.set()
        log.info("flushed %d aggregates and %d digests", report.aggregates, report.digests)


def _handle_commands(rt: Runtime, now: datetime, reload_requested: asyncio.Event) -> None:
    """Take the queued commands and carry each out. A command taken but not finished (the
    database failed in between) is kept and carried out again next turn, never dropped."""
    if not rt.pending_commands:
        rt.pending_commands = workers.take_commands(rt.worker_id, now)
    while rt.pending_commands:
        command = rt.pending_commands[0]
        result: dict[str, object] = {"ok": True}
        # "Poll now" is not a command: mrt.ops.sources.poll_now sets the source's
        # poll_requested_at, which the scheduler reads each turn (one mechanism).
        if command.kind == "reload":
            reload_requested.set()
        elif command.kind == "wake_senders":
            rt.wake.set()
        else:
            result = {"ok": False, "error": f"unknown command {command.kind!r}"}
        workers.finish_command(int(command.id), result, now)
        rt.pending_commands.pop(0)


def _database_turn(
    rt: Runtime, at: datetime, reload_requested: asyncio.Event, beat: bool
) -> bool:
    """The loop's database work for one turn; False when the database is unavailable (the
    watch has it and says when to try again). The heartbeat goes first: it is a small write
    that tells whether the database accepts writes at all."""
    watch = rt.watch
    assert watch is not None
    steps: list[tuple[str, Callable[[], object]]] = []
    if beat or watch.episode is not None:
        steps.append(("the heartbeat", lambda: _beat(rt, at)))
    steps += [
        ("starting due cycles", lambda: wake.after(rt.scheduler.start_due(at), rt.wake)),
        ("the command queue", lambda: _handle_commands(rt, at, reload_requested)),
    ]
    for where, step in steps:
        try:
            step()
        except Exception as exc:
            if watch.failed(where, exc, at):
                return False
            raise
        if where == "the heartbeat":
            watch.succeeded(at)
    flush_noise(rt, at)
    return True


def _beat(rt: Runtime, at: datetime) -> None:
    workers.beat(
        rt.worker_id,
        hostname=socket.gethostname(),
        pid=os.getpid(),
        version=__version__,
        started_at=rt.started_at,
        now=at,
        mode=rt.mode,
    )


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def _sender_loop(rt: Runtime, stop: asyncio.Event, now: Callable[[], datetime]) -> None:
    while not stop.is_set():
        rt.wake.clear()  # news stored from here on is seen by this round or wakes the next wait
        if rt.ai is not None:
            rt.ai.hold_new(now())  # new alerts wait (boundedly) for their AI summary
        report = await rt.sender.run_once(now())
        if not report.claimed:
            await wake.wait_for_news(stop, rt.wake, wake.idle_seconds(rt.sender, now(), IDLE_SECONDS))


def _start_endpoint(rt: Runtime) -> Endpoint | None:
    """observability.metrics_listen: /metrics, /healthz, /readyz; worker.health (and with it
    prometheus_client) is imported only by a worker that serves them."""
    if rt.config.observability.metrics_listen is None:
        return None
    from worker.health import start_endpoint

    return start_endpoint(
        rt.db, listen=rt.config.observability.metrics_listen, worker_id=rt.worker_id,
        database=rt.database, secrets=tuple(secret_values(rt.config, rt.env)),
        failing_after=lambda: rt.config.observability.failure_alert_after,
    )


async def run_daemon(
    rt: Runtime,
    stop: asyncio.Event,
    reload_requested: asyncio.Event,
    now: Callable[[], datetime] = utcnow,
) -> None:
    rt.watch = rt.watch or DatabaseWatch(
        rt.database,
        ops_notice_writer(rt.db, lambda: rt.config, lambda: rt.engine.targets),
    )
    rt.store_runner = waiting_store_runner(
        rt.watch, stop, grace_seconds=rt.config.delivery.shutdown_grace_seconds, now=now
    )
    rt.sender = new_sender(
        rt.config, rt.engine.targets, rt.worker_id, rt.engine.rng, rt.store_runner
    )
    # the daemon's own parts (a --once run never needs them)
    from worker.retention import start_retention
    from worker.watch import watch_sources
    from worker.webhooks import open_webhooks

    endpoint = _start_endpoint(rt)
    # observability.retention_*: pruned in a thread, in small batches, on its own schedule
    retention_task = start_retention(rt.db, lambda: rt.config, stop, now, rt.database)
    # webhooks.github: deliveries stored at once (a reload keeps the listener it started with)
    webhooks = await open_webhooks(
        rt.config, rt.env, lambda: (rt.engine, rt.scheduler.specs), on_stored=rt.wake.set
    )
    rt.notifier.ready(f"polling {len(rt.scheduler.specs)} sources")
    log.info("worker %s started: %d sources", rt.worker_id, len(rt.scheduler.specs))
    rt.ai = AiWorker(lambda: rt.config, rt.env, lambda: rt.engine, rt.db)
    if endpoint is not None:  # the AI counters on /metrics (mrt_ai_*)
        endpoint.metrics.watch_ai(lambda: rt.engine.ai_usage)
    ai_task = asyncio.create_task(rt.ai.run(stop, now))
    sender_task = asyncio.create_task(_sender_loop(rt, stop, now))
    # a local directory's change asks for its poll now (its scan is still what makes events)
    watch_task = asyncio.create_task(
        watch_sources(lambda: (list(rt.scheduler.specs.values()), rt.engine.plugins), stop, now)
    )
    last_beat: datetime | None = None
    try:
        while not stop.is_set():
            at = now()
            if reload_requested.is_set():
                reload_requested.clear()
                rt.notifier.reloading()
                reload(rt, now)
                rt.notifier.ready()
            rt.scheduler.on_database_error = partial(_cycle_failed, rt.watch, now)
            beat = last_beat is None or (at - last_beat).total_seconds() >= HEARTBEAT_SECONDS
            if not rt.watch.waiting(at):
                _database_turn(rt, at, reload_requested, beat)
            rt.watch.settle(at)
            if beat:
                rt.notifier.watchdog()  # the loop is alive, even while the database is not
                last_beat = at
            await _pause(stop, IDLE_SECONDS)
    finally:
        rt.notifier.stopping()
        if webhooks is not None:
            webhooks.close()  # no more deliveries: GitHub retries none, polling catches up
        grace = rt.config.delivery.shutdown_grace_seconds
        log.info("stopping: finishing in-flight work (up to %.0f s)", grace)
        rt.sender.stop_claiming()
        watch_task.cancel()
        ai_task.cancel()  # a summary in flight is dropped; its rows go plain (mrt.ai_hooks)
        await asyncio.gather(watch_task, ai_task, return_exceptions=True)
        await rt.ai.aclose()
        try:
            await asyncio.wait_for(sender_task, timeout=grace)
        except TimeoutError:
            sender_task.cancel()  # cancels the sends still in flight; their leases come back
        await rt.scheduler.drain(grace)
        rt.scheduler.release_all()  # the other workers take those sources at once
        await asyncio.wait([retention_task], timeout=grace)  # it stops after its batch
        _stop_cleanly(rt, now())
        if endpoint is not None:
            endpoint.close()


def _cycle_failed(
    watch: DatabaseWatch, now: Callable[[], datetime], where: str, exc: BaseException
) -> bool:
    return watch.failed(where, exc, now())


def _stop_cleanly(rt: Runtime, at: datetime) -> None:
    """Give back the leases and sign off; a database that refuses is said, not a crash (the
    leases then expire by themselves and their rows are sent again)."""
    try:
        released = rt.sender.release(at)
    except Exception as exc:
        if unavailable_kind(exc) is None:
            raise
        log.error(
            "stopped without releasing the leases: %s; they expire within %d s and their rows "
            "are sent again", explain(exc, rt.database), rt.config.delivery.lease_seconds,
        )
        return
    try:
        workers.mark_stopped(rt.worker_id, at)
    except Exception as exc:
        if unavailable_kind(exc) is None:
            raise
        log.error("stopped; its heartbeat is not marked stopped: %s", explain(exc, rt.database))
    log.info("stopped; %d leases released", released)

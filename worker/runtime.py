"""The running worker: builds the engine from the config, runs once or until told to stop.

--once    one cycle of every source (due or not), then deliver what is due, then exit
--daemon  the scheduler, the senders and the command queue until SIGTERM/SIGINT;
          SIGHUP reloads the config; systemd hears READY, WATCHDOG and STOPPING
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import sqlite3
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

import peewee

from mrt import __version__
from mrt.config import (
    Config,
    LoadedConfig,
    database_target,
    load_config_with_warnings,
    secret_values,
)
from mrt.delivery import channels
from mrt.delivery.base import Message, SendOutcome, Target
from mrt.errors import StoreError
from mrt.events import utcnow
from mrt.http import HttpPool
from mrt.logs import learn_secrets
from mrt.pipeline import CycleReport, Engine, build_specs
from mrt.rules import compile_rules
from mrt.schedule import interval_floors
from mrt.store import sources, workers
from mrt.store.backup import configured_backup_dir
from mrt.store.db import describe_target, open_store
from mrt.store.db_errors import explain, explain_error, unavailable_kind
from mrt.store.models import Command
from worker import wake
from worker.ai_step import AiWorker
from worker.dbwatch import DatabaseWatch, ops_notice_writer, waiting_store_runner
from worker.reload_status import record_reload
from worker.scheduler import Scheduler
from worker.systemd import SystemdNotifier

if TYPE_CHECKING:  # worker.health (prometheus_client) is imported when its endpoint starts
    from mrt.delivery.sender import Sender, SendReport, StoreRunner
    from worker.health import Endpoint

log = logging.getLogger("mrt.worker")

HEARTBEAT_SECONDS = 10.0
IDLE_SECONDS = 1.0


@dataclass
class Runtime:
    """One worker's config, database, engine, scheduler and sender, and its daemon's state."""

    config: Config
    db: peewee.Database
    engine: Engine
    scheduler: Scheduler
    worker_id: str
    started_at: datetime
    env: Mapping[str, str]
    config_path: str | None
    notifier: SystemdNotifier = field(default_factory=SystemdNotifier)
    database: str = ""  # the database target the worker opened (a reload never changes it)
    store_runner: StoreRunner | None = None  # the sender's; the daemon's waits out a locked DB
    watch: DatabaseWatch | None = None  # the daemon's: waits out an unavailable database
    pending_commands: list[Command] = field(default_factory=list)  # taken, not yet finished
    last_send: SendReport | None = None  # --once: what its deliveries came to (the exit code)
    mode: str | None = None  # on the heartbeat: daemon | once | service (worker.main sets it)
    ai: AiWorker | None = None  # the daemon's AI step (summaries), when the config turns it on
    # set when new outbox rows are stored (a cycle, a webhook delivery, a flush, wake_senders):
    # the daemon's idle sender goes at once instead of at its next tick
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    _sender: Sender | None = field(default=None, repr=False)

    @property
    def sender(self) -> Sender:
        """The outbox's sender, built when first asked: a --once run asks after its cycles
        (the sender's modules are not needed before the first request), the daemon at once."""
        if self._sender is None:
            self._sender = new_sender(
                self.config, self.engine.targets, self.worker_id, self.engine.rng,
                self.store_runner,
            )
        return self._sender

    @sender.setter
    def sender(self, sender: Sender) -> None:
        self._sender = sender


def _engine_parts(
    config: Config,
    env: Mapping[str, str],
    db: peewee.Database,
    pool: HttpPool,
    rng: random.Random,
    owner: str | None = None,  # the worker id its source leases are held under
) -> tuple[Engine, Scheduler, dict[str, list[Target]]]:
    targets = channels.resolve_targets(config, env)
    ruleset = compile_rules(config)

    specs = build_specs(config)
    engine = Engine(
        config=config,
        db=db,
        pool=pool,
        targets=targets,
        ruleset=ruleset,
        env=env,
        rng=rng,
    )
    engine.interval_floors = interval_floors(
        specs, engine.plugins, env, lambda host: pool.budgets.get(host, pool.default_budget)
    )
    return engine, Scheduler(engine, specs, utcnow(), owner=owner), targets


def replay_on_rules_change(
    config: Config, targets: Mapping[str, list[Target]], db: peewee.Database, now: datetime
) -> None:
    """delivery.rules_change_replay_hours: at start and reload, before the first cycle stores
    the new rule version. A failure is logged, never fatal: the worker runs on. Off (0, the
    default): nothing to plan, so neither the replay's code nor its write transaction."""
    if config.delivery.rules_change_replay_hours <= 0:
        return
    from mrt.ops.replay import replay_after_rules_change

    try:
        result = replay_after_rules_change(config, targets, db=db, now=now, actor="worker")
    except Exception as exc:
        log.error("replay after the rules change failed: %s", exc)
        return
    if result is not None:
        log.info(
            "rules changed: replayed %d events (%d deliveries), audit #%d",
            len(result.alert_ids),
            result.deliveries,
            result.audit_id,
        )


def log_warnings(loaded: LoadedConfig) -> Config:
    """Each config warning at WARNING (on start and on every reload), then the config."""
    for warning in loaded.warnings:
        log.warning("config: %s", warning.line())
    return loaded.config


async def build_runtime(
    config_path: str | None,
    *,
    env: Mapping[str, str] | None = None,
    pool: HttpPool,
    now: Callable[[], datetime] = utcnow,
) -> Runtime:
    env = dict(os.environ) if env is None else env
    config = log_warnings(load_config_with_warnings(config_path, env=env))
    target = database_target(config)
    backups = configured_backup_dir(config.state.backup_dir)
    worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    rng = random.Random()
    try:
        db = open_store(
            target, backup_dir=backups, busy_timeout_ms=config.state.busy_timeout_ms
        )
        engine, scheduler, targets = _engine_parts(config, env, db, pool, rng, worker_id)
    except (peewee.PeeweeException, sqlite3.Error) as exc:  # read-only, locked, full ...
        raise StoreError(f"cannot start: {explain(exc, target)}") from exc
    replay_on_rules_change(config, targets, db, now())
    return Runtime(
        config=config,
        db=db,
        engine=engine,
        scheduler=scheduler,
        worker_id=worker_id,
        started_at=utcnow(),
        env=env,
        config_path=config_path,
        database=target,
    )


async def send(target: Target, message: Message, timeout: float) -> SendOutcome:
    return await channels.send(target, message, timeout=timeout)


def new_sender(
    config: Config,
    targets: Mapping[str, list[Target]],
    owner: str,
    rng: random.Random,
    store_runner: StoreRunner | None = None,
) -> Sender:
    from mrt.delivery.sender import Sender

    # store calls in a thread: a claim waiting on SQLite's write lock must not stall polling
    return Sender(config, targets, send, owner, rng, store_runner=store_runner or asyncio.to_thread)


def keep_database(rt: Runtime, config: Config) -> Config:
    """A reload never switches databases under a running worker (its leases, cursors and
    command queue live in the one it opened): a changed state section is announced and left
    for the restart."""
    try:
        target = database_target(config, rt.env)
    except Exception:  # an unexpandable state.url: the restart will say so
        target = None
    if target == rt.database or not rt.database:
        return config
    log.warning(
        "the reloaded config names another database (%s) than the one this worker runs on "
        "(%s): a database change needs a restart of mrt-worker; until then it keeps running "
        "on %s",
        describe_target(target) if target else "state.url",
        describe_target(rt.database),
        describe_target(rt.database),
    )
    return config.model_copy(update={"state": rt.config.state})


def reload(rt: Runtime, now: Callable[[], datetime] = utcnow) -> None:
    """SIGHUP: read the config again; a bad new config keeps the old one running."""
    try:
        config = keep_database(
            rt, log_warnings(load_config_with_warnings(rt.config_path, env=rt.env))
        )
        engine, scheduler, targets = _engine_parts(
            config, rt.env, rt.db, rt.engine.pool, rt.engine.rng, rt.worker_id
        )
        engine.ai_usage = rt.engine.ai_usage  # the AI counters go on counting
    except Exception as exc:
        log.error("reload failed, keeping the running config: %s", explain_error(exc, rt.database))
        record_reload(rt, exc, now())
        return
    rt.config, rt.engine, rt.scheduler = config, engine, scheduler
    learn_secrets(secret_values(config, rt.env))  # a new channel's token stays out of the log
    replay_on_rules_change(config, targets, rt.db, now())
    rt.sender = new_sender(config, targets, rt.worker_id, rt.engine.rng, rt.store_runner)
    log.info("config reloaded: %d sources", len(scheduler.specs))
    record_reload(rt, None, now())


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

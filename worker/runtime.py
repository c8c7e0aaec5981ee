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
import signal
import socket
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import peewee

from mrt import __version__
from mrt.config import Config, database_target, load_config, secret_values
from mrt.delivery import channels
from mrt.delivery.base import Message, SendOutcome, Target
from mrt.delivery.render import render_message
from mrt.delivery.sender import Sender
from mrt.events import TrackerEvent, utcnow
from mrt.http import HttpPool
from mrt.logs import learn_secrets
from mrt.noise.flush import flush_due
from mrt.pipeline import CycleReport, Engine, build_specs
from mrt.replay import replay_after_rules_change
from mrt.rules import Decision, compile_rules
from mrt.store import sources, workers
from mrt.store.db import open_store
from worker.scheduler import Scheduler
from worker.systemd import SystemdNotifier

log = logging.getLogger("mrt.worker")

HEARTBEAT_SECONDS = 10.0
IDLE_SECONDS = 1.0


@dataclass
class Runtime:
    config: Config
    db: peewee.Database
    engine: Engine
    scheduler: Scheduler
    sender: Sender
    worker_id: str
    started_at: datetime
    env: Mapping[str, str]
    config_path: str | None
    notifier: SystemdNotifier = field(default_factory=SystemdNotifier)


def _engine_parts(
    config: Config, env: Mapping[str, str], db: peewee.Database, pool: HttpPool, rng: random.Random
) -> tuple[Engine, Scheduler, dict[str, list[Target]]]:
    targets = channels.resolve_targets(config, env)
    ruleset = compile_rules(config)

    def render(channel: str, events: Sequence[TrackerEvent], decision: Decision) -> Message:
        return render_message(config, channel, events, decision)

    engine = Engine(
        config=config,
        db=db,
        pool=pool,
        targets=targets,
        ruleset=ruleset,
        render=render,
        env=env,
        rng=rng,
    )
    return engine, Scheduler(engine, build_specs(config), utcnow()), targets


def replay_on_rules_change(
    config: Config, targets: Mapping[str, list[Target]], db: peewee.Database, now: datetime
) -> None:
    """delivery.rules_change_replay_hours: at start and reload, before the first cycle stores
    the new rule version. A failure is logged, never fatal: the worker runs on."""
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


async def build_runtime(
    config_path: str | None,
    *,
    env: Mapping[str, str] | None = None,
    pool: HttpPool,
    now: Callable[[], datetime] = utcnow,
) -> Runtime:
    env = dict(os.environ) if env is None else env
    config = load_config(config_path, env=env)
    db = open_store(database_target(config))
    worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    rng = random.Random()
    engine, scheduler, targets = _engine_parts(config, env, db, pool, rng)
    replay_on_rules_change(config, targets, db, now())
    sender = new_sender(config, targets, worker_id, rng)
    return Runtime(
        config=config,
        db=db,
        engine=engine,
        scheduler=scheduler,
        sender=sender,
        worker_id=worker_id,
        started_at=utcnow(),
        env=env,
        config_path=config_path,
    )


async def send(target: Target, message: Message, timeout: float) -> SendOutcome:
    return await channels.send(target, message, timeout=timeout)


def new_sender(
    config: Config, targets: Mapping[str, list[Target]], owner: str, rng: random.Random
) -> Sender:
    # store calls in a thread: a claim waiting on SQLite's write lock must not stall polling
    return Sender(config, targets, send, owner, rng, store_runner=asyncio.to_thread)


def reload(rt: Runtime, now: Callable[[], datetime] = utcnow) -> None:
    """SIGHUP: read the config again; a bad new config keeps the old one running."""
    try:
        config = load_config(rt.config_path, env=rt.env)
        engine, scheduler, targets = _engine_parts(
            config, rt.env, rt.db, rt.engine.pool, rt.engine.rng
        )
    except Exception as exc:
        log.error("reload failed, keeping the running config: %s", exc)
        return
    rt.config, rt.engine, rt.scheduler = config, engine, scheduler
    learn_secrets(secret_values(config, rt.env))  # a new channel's token stays out of the log
    replay_on_rules_change(config, targets, rt.db, now())
    rt.sender = new_sender(config, targets, rt.worker_id, rt.engine.rng)
    log.info("config reloaded: %d sources", len(scheduler.specs))


async def run_once(rt: Runtime, now: Callable[[], datetime] = utcnow) -> list[CycleReport]:
    """v0's --once: every source polls now (due or not), then everything due is delivered."""
    at = now()
    for key in rt.scheduler.specs:
        sources.request_poll(key, at)
    reports = await rt.scheduler.tick(at)
    flush_noise(rt, now())
    await rt.sender.run_until_idle(now)
    workers.beat(
        rt.worker_id,
        hostname=socket.gethostname(),
        pid=os.getpid(),
        version=__version__,
        started_at=rt.started_at,
        now=now(),
    )
    workers.mark_stopped(rt.worker_id, now())
    return reports


def flush_noise(rt: Runtime, now: datetime) -> None:
    """Aggregation windows that ended and digests whose schedule fired become outbox rows."""
    try:
        report = flush_due(rt.db, rt.config, rt.engine.targets, rt.engine.render, now)
    except Exception as exc:  # must not stop the loop; the next tick tries again
        log.error("flushing aggregates and digests failed: %s", exc)
        return
    if report.alerts:
        log.info("flushed %d aggregates and %d digests", report.aggregates, report.digests)


def _handle_commands(rt: Runtime, now: datetime, reload_requested: asyncio.Event) -> None:
    for command in workers.take_commands(rt.worker_id, now):
        result: dict[str, object] = {"ok": True}
        if command.kind == "poll_now":
            key = str(command.args.get("source_key", ""))
            result["requested"] = sources.request_poll(key, now) if key else 0
        elif command.kind == "reload":
            reload_requested.set()
        elif command.kind != "wake_senders":
            result = {"ok": False, "error": f"unknown command {command.kind!r}"}
        workers.finish_command(int(command.id), result, now)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def _sender_loop(rt: Runtime, stop: asyncio.Event, now: Callable[[], datetime]) -> None:
    while not stop.is_set():
        report = await rt.sender.run_once(now())
        if not report.claimed:
            await _pause(stop, IDLE_SECONDS)


async def run_daemon(
    rt: Runtime,
    stop: asyncio.Event,
    reload_requested: asyncio.Event,
    now: Callable[[], datetime] = utcnow,
) -> None:
    hostname, pid = socket.gethostname(), os.getpid()
    rt.notifier.ready(f"polling {len(rt.scheduler.specs)} sources")
    log.info("worker %s started: %d sources", rt.worker_id, len(rt.scheduler.specs))
    sender_task = asyncio.create_task(_sender_loop(rt, stop, now))
    last_beat = None
    try:
        while not stop.is_set():
            at = now()
            if reload_requested.is_set():
                reload_requested.clear()
                rt.notifier.reloading()
                reload(rt, now)
                rt.notifier.ready()
            rt.scheduler.start_due(at)
            flush_noise(rt, at)
            _handle_commands(rt, at, reload_requested)
            if last_beat is None or (at - last_beat).total_seconds() >= HEARTBEAT_SECONDS:
                workers.beat(
                    rt.worker_id,
                    hostname=hostname,
                    pid=pid,
                    version=__version__,
                    started_at=rt.started_at,
                    now=at,
                )
                rt.notifier.watchdog()
                last_beat = at
            await _pause(stop, IDLE_SECONDS)
    finally:
        rt.notifier.stopping()
        grace = rt.config.delivery.shutdown_grace_seconds
        log.info("stopping: finishing in-flight work (up to %.0f s)", grace)
        rt.sender.stop_claiming()
        try:
            await asyncio.wait_for(sender_task, timeout=grace)
        except TimeoutError:
            sender_task.cancel()  # cancels the sends still in flight; their leases come back
        await rt.scheduler.drain(grace)
        released = rt.sender.release(now())
        workers.mark_stopped(rt.worker_id, now())
        log.info("stopped; %d leases released", released)


def install_signal_handlers(stop: asyncio.Event, reload_requested: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reload_requested.set)

"""The worker's Runtime: built from the config (engine, scheduler, sender, database), and
rebuilt in place when the config is reloaded. worker/runtime.py runs it (--once, --daemon)."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import sqlite3
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import peewee

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
from mrt.pipeline import Engine, build_specs
from mrt.rules import compile_rules
from mrt.schedule import interval_floors
from mrt.store.backup import configured_backup_dir
from mrt.store.db import describe_target, open_store
from mrt.store.db_errors import explain, explain_error
from mrt.store.models import Command
from worker.ai_step import AiWorker
from worker.dbwatch import DatabaseWatch
from worker.reload_status import record_reload
from worker.scheduler import Scheduler
from worker.systemd import SystemdNotifier

if TYPE_CHECKING:  # the sender is imported when it is first built (after the first request)
    from mrt.delivery.sender import Sender, SendReport, StoreRunner

log = logging.getLogger("mrt.worker")



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

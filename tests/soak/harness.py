"""run_soak(settings) -> SoakReport: the whole run, used by run.py and the CI tests.

    baseline   start the fakes and the worker; wait (bounded) for the baseline poll of each repo
    chaos      the change driver runs; the worker is SIGKILLed at seeded random instants and
               restarted; after each kill: reap, note the rows left `sending` (sends in flight),
               PRAGMA integrity_check
    database   (optional) another process holds the write lock, then the database's disk
               is full (soak/dbphases.py); the worker must stay alive throughout
    steady     changes and faults go on without kills (memory and fds are judged here)
    drain      changes stop; the worker is stopped with SIGTERM and started again cleanly;
               wait (bounded) until every repo had a successful poll that began after the last
               change, and the outbox holds nothing pending, retrying or sending; SIGTERM
    judge      the sink's record against the change log and the outbox (oracle.py)
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import peewee

from mrt.config import load_config
from mrt.delivery.channels import resolve_targets
from mrt.events import utcnow
from mrt.store import sources as source_store
from mrt.store.db import open_store
from mrt.store.models import Alert, DeliveryAttempt, Event, Outbox, SourceState
from soak.dbphases import disk_full_phase, locked_phase, mount_small_fs, unmount
from soak.oracle import DeliveryVerdict, MemoryVerdict, OutboxFact, judge_deliveries, judge_memory
from soak.process import (
    Sample,
    WorkerProcess,
    integrity_check,
    sample_process,
    worker_config,
    write_config,
)
from soak.servers import LoopbackServer
from soak.sink import FlakySink, SinkFaults, read_deliveries
from soak.upstream import ChangeDriver, ChangeLog, FlakyGitHub, UpstreamFaults

REPOS = ["soak/alpha", "soak/beta"]
TICK_SECONDS = 0.2


@dataclass
class SoakSettings:
    workdir: Path
    seed: int = 1
    kills: int = 50  # at most this many SIGKILLs ...
    kill_phase_seconds: float | None = None  # ... within this long (None: until all are done)
    kill_delay: tuple[float, float] = (0.5, 4.0)  # seconds from a start to its SIGKILL
    duration_seconds: float = 0.0  # changes run at least this long (then a kill-free stretch)
    changes_per_second: float = 2.0
    poll_every: float = 1.0  # seconds between poll requests per repo
    sample_every: float = 1.0
    memory_warmup_seconds: float = 20.0
    baseline_timeout: float = 90.0
    drain_timeout: float = 240.0
    # the database phases (soak/dbphases.py), after the kills: 0 leaves a phase out
    lock_seconds: float = 0.0
    disk_full_seconds: float = 0.0  # needs root (a tmpfs holds the database); else skipped
    disk_size: str = "64m"
    busy_timeout_ms: int | None = None  # the worker's; None: the product's default (10 s)
    upstream_faults: UpstreamFaults = field(default_factory=UpstreamFaults)
    sink_faults: SinkFaults = field(default_factory=SinkFaults)


@dataclass
class SoakReport:
    settings: dict[str, Any]
    seconds: float
    changes: dict[str, int]
    upstream_requests: int
    upstream_faults: dict[str, int]
    sink_faults: dict[str, int]
    events_observed: int
    alerts: int
    outbox: dict[str, int]
    attempts: dict[str, int]
    kills: list[dict[str, Any]]
    kills_with_sends_in_flight: int
    integrity: list[str]
    unexpected_exits: list[dict[str, Any]]
    drained: bool
    final_exit_code: int | None
    restart_exit_code: int | None  # the SIGTERM before the drain (-15: it was still starting)
    left_sending_after_sigterm: int
    half_written: list[str]  # after each kill and at the end: must stay empty
    db_phases: list[dict[str, Any]]  # locked / disk_full: how long, the worker alive throughout
    deliveries: DeliveryVerdict
    memory: MemoryVerdict
    folded_rows: int = 0  # alerts that went out inside another alert's message (issue 13)

    @property
    def integrity_ok(self) -> bool:
        return bool(self.integrity) and all(r == "ok" for r in self.integrity)

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["deliveries"] = dict(self.deliveries.__dict__)
        data["memory"] = self.memory.as_dict()
        data["integrity_ok"] = self.integrity_ok
        data["integrity_checks"] = len(self.integrity)
        data["integrity"] = dict(Counter(self.integrity))
        return data


class _Run:
    """The moving parts of one run and the bounded waits between them."""

    def __init__(self, settings: SoakSettings, log: IO[bytes], config_path: Path,
                 db_path: Path) -> None:
        self.s = settings
        self.log = log
        self.config_path = config_path
        self.t0 = time.monotonic()
        self.db_path = db_path
        self.quiet = False  # no poll requests (the database phases)
        self.rng = random.Random(settings.seed)
        self.samples: list[Sample] = []
        self.incarnation = 0
        self.worker: WorkerProcess | None = None
        self.unexpected_exits: list[dict[str, Any]] = []
        self._next_poll = 0.0
        self.no_disk: str | None = "-"  # why the database is not on a small disk (None: it is)
        self._next_sample = 0.0

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def start_worker(self) -> WorkerProcess:
        self.incarnation += 1
        self.worker = WorkerProcess(self.config_path, self.log, self.incarnation,
                                    self.s.busy_timeout_ms)
        return self.worker

    def tick(self) -> None:
        """Between waits: sample the worker, ask for polls, notice a worker that died alone."""
        worker = self.worker
        now = time.monotonic()
        if worker is not None and not worker.alive():
            self.unexpected_exits.append({"incarnation": worker.incarnation,
                                          "exit_code": worker.proc.returncode,
                                          "at": round(self.elapsed(), 1)})
            self.start_worker()
            return
        if worker is not None and now >= self._next_sample:
            self._next_sample = now + self.s.sample_every
            found = sample_process(worker.pid)
            if found is not None:
                self.samples.append(Sample(round(self.elapsed(), 2), worker.incarnation, *found))
        if now >= self._next_poll and not self.quiet:
            self._next_poll = now + self.s.poll_every
            for repo in REPOS:
                source_store.request_poll(f"github:{repo}", utcnow())

    def wait(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.tick()
            time.sleep(min(TICK_SECONDS, max(0.0, deadline - time.monotonic())))

    def wait_for(self, condition: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.tick()
            if condition():
                return True
            time.sleep(TICK_SECONDS)
        return condition()


def _baselined() -> bool:
    keys = [f"github:{r}" for r in REPOS]
    found = SourceState.select().where(SourceState.source_key.in_(keys)
                                       & SourceState.cursor.is_null(False)).count()
    return int(found) == len(keys)


def _polled_after(moment: float) -> Callable[[], bool]:
    def check() -> bool:
        states = list(SourceState.select().where(
            SourceState.source_key.in_([f"github:{r}" for r in REPOS])))
        return len(states) == len(REPOS) and all(
            s.last_success_at is not None and s.last_success_at.timestamp() > moment
            for s in states)
    return check


def _outbox_idle() -> bool:
    return not Outbox.select().where(Outbox.status.in_(("pending", "retrying", "sending"))).exists()


def _in_flight() -> list[tuple[int, str]]:
    """Sends the killed worker had in flight, each (row, lease owner) one that may have landed:
    every row it held `sending`, except the later rows of a run (a target's rows leased in one
    claim, same owner, expiry and target, not folded): a sender starts a run's next row only
    once the one before is recorded, so of those still `sending` only the first can have gone
    out; the others go back untried when it is taken back (mrt/store/outbox_lease.py)."""
    rows = (Outbox.select(Outbox.id, Outbox.lease_owner, Outbox.lease_expires_at, Outbox.target,
                          Outbox.folded_into)
            .where(Outbox.status == "sending").order_by(Outbox.id))
    runs: set[tuple[str, object, str]] = set()
    found = []
    for r in rows:
        if r.folded_into is None:
            run = (str(r.lease_owner), r.lease_expires_at, str(r.target))
            if run in runs:
                continue
            runs.add(run)
        found.append((int(r.id), str(r.lease_owner)))
    return found


def _target_names(config_path: Path, sink_urls: dict[str, str]) -> dict[str, str]:
    """Outbox target key -> sink name, through the product's own target resolution."""
    names = {url: name for name, url in sink_urls.items()}
    config = load_config(str(config_path), env={})
    return {t.key: names.get(t.url, t.url) for ts in resolve_targets(config, {}).values()
            for t in ts}


def _saved(samples: list[Sample], path: Path) -> list[Sample]:
    """Keep the raw RSS/fd samples beside the report, to plot or judge again later."""
    path.write_text("".join(json.dumps(sample.__dict__) + "\n" for sample in samples))
    return samples


def _half_written(targets: int) -> list[str]:
    """Crash consistency of the cycle's one transaction: an alert has a row for every target,
    and every event the rules sent on has its alert. Names what is half-written."""
    fanout = (Alert.select(Alert.id, peewee.fn.COUNT(Outbox.id).alias("rows"))
              .join(Outbox, peewee.JOIN.LEFT_OUTER).group_by(Alert.id))
    found = [f"alert {a.id} has {a.rows} outbox rows" for a in fanout if a.rows != targets]
    orphans = (Event.select(Event.id).join(Alert, peewee.JOIN.LEFT_OUTER,
                                           on=(Alert.event == Event.id))
               .where((Event.decision == "notify") & Alert.id.is_null()))
    found += [f"event {e.id} was decided notify but has no alert" for e in orphans]
    return found


def _note_abandoned(abandoned: Counter[int], seen: set[tuple[int, str]]) -> list[tuple[int, str]]:
    """Count the claims the process just gone left `sending`; returns only those new ones (a
    row abandoned earlier stays `sending` until its lease expires and is not counted twice)."""
    new = [claim for claim in _in_flight() if claim not in seen]
    for claim in new:
        seen.add(claim)
        abandoned[claim[0]] += 1
    return new


def _outbox_facts(target_names: dict[str, str]) -> list[OutboxFact]:
    facts = []
    query = (Outbox.select(Outbox, Alert, Event).join(Alert)
             .join(Event, peewee.JOIN.LEFT_OUTER, on=(Alert.event == Event.id)))
    for row in query:
        target = target_names.get(row.target, row.target)
        key = None
        event = row.alert.event
        if event is not None and event.id is not None:
            repo, _, number = event.resource_id.partition("#")
            key = (repo, int(number), event.event_type)
        facts.append(OutboxFact(int(row.id), target, row.body, row.status, key,
                                str(row.alert.title or "")))
    return facts


def _database_phases(run: _Run) -> list[dict[str, Any]]:
    """Locked, then disk full (soak/dbphases.py), each on a worker that has settled in."""
    phases: list[dict[str, Any]] = []
    if run.s.lock_seconds:
        run.wait(3.0)
        phases.append(locked_phase(run, run.s.lock_seconds))
    if run.s.disk_full_seconds:
        if run.no_disk is not None:
            phases.append({"phase": "disk_full", "skipped": run.no_disk})
        else:
            run.wait(3.0)
            phases.append(disk_full_phase(run, run.s.disk_full_seconds))
    return phases


def run_soak(settings: SoakSettings) -> SoakReport:
    workdir = settings.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    record = workdir / "deliveries.jsonl"
    record.write_text("")
    changes = ChangeLog()
    with (LoopbackServer() as upstream_server, LoopbackServer() as sink_server,
          (workdir / "worker.log").open("ab") as log):
        github = FlakyGitHub(upstream_server, REPOS, settings.upstream_faults, settings.seed + 1)
        sink = FlakySink(sink_server, record, settings.sink_faults, settings.seed + 2)
        sink_urls = {name: sink.url(name) for name in ("a", "b")}
        disk = workdir / "disk"
        no_disk = mount_small_fs(disk, settings.disk_size) if settings.disk_full_seconds else "-"
        db_path = (disk if no_disk is None else workdir) / "mrt.db"
        config_path = write_config(workdir / "config.json", worker_config(
            db_path=db_path, github_url=upstream_server.url_for(""), repos=REPOS,
            sink_urls=list(sink_urls.values()), busy_timeout_ms=settings.busy_timeout_ms))
        run = _Run(settings, log, config_path, db_path)
        run.no_disk = no_disk
        db = open_store(db_path)  # migrated once here, as `mrt db migrate` would
        try:
            return _drive(run, github, sink, changes, sink_urls, record)
        finally:
            sink.close()
            if run.worker is not None and run.worker.alive():
                run.worker.kill()
            db.close()
            if no_disk is None:
                unmount(disk)


def _drive(run: _Run, github: FlakyGitHub, sink: FlakySink, changes: ChangeLog,
           sink_urls: dict[str, str], record: Path) -> SoakReport:
    s = run.s
    run.start_worker()
    if not run.wait_for(_baselined, s.baseline_timeout):
        raise RuntimeError(f"no baseline poll within {s.baseline_timeout} s; see "
                           f"{s.workdir / 'worker.log'}")
    driver = ChangeDriver(github, changes, seed=s.seed + 3,
                          changes_per_second=s.changes_per_second)
    driver.start()
    chaos_started = run.elapsed()
    kills: list[dict[str, Any]] = []
    integrity: list[str] = []
    abandoned: Counter[int] = Counter()
    claims_seen: set[tuple[int, str]] = set()
    half_written: list[str] = []
    while len(kills) < s.kills:
        in_phase = run.elapsed() - chaos_started
        if s.kill_phase_seconds is not None and in_phase >= s.kill_phase_seconds:
            break
        delay = run.rng.uniform(*s.kill_delay)
        run.wait(delay)
        worker = run.worker
        assert worker is not None
        code = worker.kill()
        in_flight = _note_abandoned(abandoned, claims_seen)
        result = integrity_check(run.db_path)
        integrity.append(result)
        half_written.extend(_half_written(len(sink_urls)))
        kills.append({"at": round(run.elapsed(), 2), "after_seconds": round(delay, 2),
                      "exit_code": code, "in_flight": len(in_flight), "integrity": result})
        run.start_worker()
    db_phases = _database_phases(run)
    run.wait(max(0.0, s.duration_seconds - (run.elapsed() - chaos_started)))

    driver.stop()
    last_change = changes.last_change_at
    assert run.worker is not None
    # a worker SIGTERMed before its signal handlers exist dies like a kill: count its claims
    stop_code = run.worker.stop(timeout=30)
    left_after_stop = len(_note_abandoned(abandoned, claims_seen))
    integrity.append(integrity_check(run.db_path))
    run.start_worker()
    drained = run.wait_for(_polled_after(last_change + 1.0), s.drain_timeout / 2)
    drained = drained and run.wait_for(_outbox_idle, s.drain_timeout / 2)
    final_code = run.worker.stop(timeout=30)
    left_after_stop += len(_note_abandoned(abandoned, claims_seen))
    run.worker = None
    integrity.append(integrity_check(run.db_path))
    half_written.extend(_half_written(len(sink_urls)))

    sink.close()
    deliveries = judge_deliveries(changes.expected, read_deliveries(record),
                                  _outbox_facts(_target_names(run.config_path, sink_urls)),
                                  abandoned)
    return SoakReport(
        settings={k: str(v) for k, v in s.__dict__.items()},
        seconds=round(run.elapsed(), 1),
        changes=dict(changes.changes),
        upstream_requests=sum(github.plan.served.values()),
        upstream_faults=dict(github.plan.served),
        sink_faults=dict(sink.plan.served),
        events_observed=int(Event.select().count()),
        alerts=int(Alert.select().where(Alert.kind == "event").count()),
        outbox=dict(Counter(r.status for r in Outbox.select(Outbox.status))),
        attempts=dict(Counter(a.outcome for a in DeliveryAttempt.select(DeliveryAttempt.outcome))),
        kills=kills,
        kills_with_sends_in_flight=sum(1 for k in kills if k["in_flight"]),
        integrity=integrity,
        unexpected_exits=run.unexpected_exits,
        drained=drained,
        final_exit_code=final_code,
        restart_exit_code=stop_code,
        left_sending_after_sigterm=left_after_stop,
        half_written=half_written,
        db_phases=db_phases,
        deliveries=deliveries,
        memory=judge_memory(_saved(run.samples, s.workdir / "samples.jsonl"),
                            warmup_seconds=s.memory_warmup_seconds),
        folded_rows=int(Outbox.select().where(Outbox.folded_into.is_null(False)).count()),
    )

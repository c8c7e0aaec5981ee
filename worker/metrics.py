"""The worker's Prometheus series (prometheus_client), read at scrape time.

Two kinds of series:

- Gauges read from the database at scrape time by `StoreCollector` (source health, failures,
  rate limit, cursor age; each target's queue depth, oldest queued row and dead letters; live
  workers' heartbeats and leases). Every worker, the CLI and the console read the same rows,
  so they agree, and nothing is lost on a restart.
- Counters and the cycle-duration histogram, counted in this process from the per-cycle and
  per-attempt rows written since it started (`WorkerMetrics.catch_up`, by row id). On one
  shared PostgreSQL every worker counts every worker's cycles: aggregate with `max`, not `sum`.

Labels are the source key, the channel name, the target's redacted URL (the outbox never stores
the secret one), an outcome or an HTTP status: each passes through `label()`, which bounds the
length, drops control characters and scrubs anything secret-shaped. worker/health.py serves it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import peewee
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    Info,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mrt import __version__
from mrt.ai.usage import AiUsage
from mrt.events import utcnow
from mrt.inert import inert_text
from mrt.secrets import redact_shapes, scrub
from mrt.store.db import sqlite_path
from mrt.store.views import scrape

CYCLE_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
MAX_LABEL = 200
SCRAPE_ROWS = 5000  # new rows read per query; at most 20 queries of each kind per scrape


class DatabaseGone(Exception):
    """The SQLite file is not where the worker opened it (moved, deleted)."""


def label(value: object, secrets: Iterable[str] = (), *, max_chars: int = MAX_LABEL) -> str:
    """A label value that cannot carry a control character, a secret or a megabyte."""
    return scrub(redact_shapes(inert_text(value, max_chars=max_chars)), secrets)


def check_reachable(db: peewee.Database) -> None:
    """Raise when this thread cannot reach the database. SQLite: the file must still be there
    (connecting to a missing path would quietly create an empty database)."""
    path = sqlite_path(db)
    if path is not None and not Path(path).exists():
        raise DatabaseGone(f"the database file {path} is missing")
    db.connect(reuse_if_open=True)


def close_quietly(db: peewee.Database) -> None:
    """Close this thread's connection, so the next scrape reconnects (and sees a database that
    went away or came back)."""
    with contextlib.suppress(Exception):  # a broken connection: nothing more to give back
        db.close()


class WorkerMetrics:
    """The registry a scrape renders, and the counters this process keeps."""

    def __init__(
        self,
        db: peewee.Database,
        *,
        worker_id: str,
        secrets: Iterable[str] = (),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.worker_id = worker_id
        self.secrets = tuple(secrets)
        self.clock = clock
        self.lock = threading.Lock()  # one scrape at a time moves the counters
        self.cycle_id: int | None = None  # the newest row already counted
        self.attempt_id: int | None = None
        self.reachable = False  # did the last scrape read the database
        disable_created_metrics()  # type: ignore[no-untyped-call]  # no *_created series
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self.polls = Counter(
            "mrt_source_polls", "Source cycles, by outcome (ok, failed, deferred, not_modified)",
            ["source", "outcome"], registry=r,
        )
        self.fetched = Counter(
            "mrt_source_events_fetched", "Upstream items fetched", ["source"], registry=r
        )
        self.new_events = Counter(
            "mrt_source_events_new", "New events stored", ["source"], registry=r
        )
        self.matched = Counter(
            "mrt_source_events_matched", "Events a rule matched", ["source"], registry=r
        )
        self.requests = Counter(
            "mrt_source_http_requests", "Upstream HTTP requests, by status",
            ["source", "status"], registry=r,
        )
        self.not_modified = Counter(
            "mrt_source_not_modified", "Upstream answers 304 Not Modified", ["source"], registry=r
        )
        self.duration = Histogram(
            "mrt_source_cycle_duration_seconds", "How long one source's cycle took",
            ["source"], buckets=CYCLE_BUCKETS, registry=r,
        )
        self.attempts = Counter(
            "mrt_delivery_attempts", "Delivery attempts, by outcome (sent, retry, dead, throttled)",
            ["channel", "target", "outcome"], registry=r,
        )
        Info("mrt_build", "This worker's version", registry=r).info({"version": __version__})
        r.register(StoreCollector(self))

    def watch_ai(self, usage: Callable[[], AiUsage]) -> None:
        """Expose this worker's AI counters (its engine's: mrt.pipeline.Engine.ai_usage)."""
        self.registry.register(AiCollector(usage))

    def start_counting(self) -> None:
        """Count from the rows written after now (earlier cycles belong to earlier runs)."""
        if self.cycle_id is None:
            self.cycle_id, self.attempt_id = scrape.newest_ids()

    def catch_up(self) -> None:
        """Add the cycles and attempts written since the last scrape to the counters."""
        self.start_counting()
        assert self.cycle_id is not None and self.attempt_id is not None
        for _ in range(20):  # a bounded scrape; what is left is counted next time
            cycles = scrape.cycles_after(self.cycle_id, limit=SCRAPE_ROWS)
            for c in cycles:
                self._count_cycle(c)
                self.cycle_id = c.id
            if len(cycles) < SCRAPE_ROWS:
                break
        for _ in range(20):
            attempts = scrape.attempts_after(self.attempt_id, limit=SCRAPE_ROWS)
            for a in attempts:
                self.attempts.labels(
                    label(a.channel, self.secrets), label(a.target, self.secrets),
                    label(a.outcome),
                ).inc()
                self.attempt_id = a.id
            if len(attempts) < SCRAPE_ROWS:
                break

    def _count_cycle(self, c: scrape.CycleRow) -> None:
        source = label(c.source_key, self.secrets)
        self.polls.labels(source, label(c.outcome)).inc()
        # max(0, ...): a counter only goes up, whatever a damaged row says
        self.fetched.labels(source).inc(max(0, c.fetched))
        self.new_events.labels(source).inc(max(0, c.new_events))
        self.matched.labels(source).inc(max(0, c.matched))
        self.duration.labels(source).observe(max(0, c.duration_ms) / 1000)
        for status, n in c.http_statuses.items():
            self.requests.labels(source, label(status)).inc(max(0, n))
        not_modified = max(0, c.http_statuses.get("304", 0))
        if not_modified:
            self.not_modified.labels(source).inc(not_modified)

    def exposition(self) -> bytes:
        """The text a scrape gets. A database that cannot be read leaves mrt_database_up 0
        and the counters as they were; the gauges that need it are left out."""
        with self.lock:
            try:
                check_reachable(self.db)
                self.catch_up()
                self.reachable = True
            except Exception:
                self.reachable = False
            try:
                return generate_latest(self.registry)
            finally:
                close_quietly(self.db)


class StoreCollector(Collector):
    """The gauges, read from the database at scrape time (in the scraping thread)."""

    def __init__(self, metrics: WorkerMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        up = GaugeMetricFamily("mrt_database_up", "1 when the last scrape could read the database")
        if not m.reachable:
            up.add_metric([], 0)
            yield up
            return
        try:
            families = list(self._families(m.clock()))
        except Exception:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self, now: datetime) -> Iterator[Metric]:
        secrets = self.metrics.secrets
        health = GaugeMetricFamily(
            "mrt_source_health", "1 for the source's current health", labels=["source", "health"]
        )
        failures = GaugeMetricFamily(
            "mrt_source_consecutive_failures", "Failed cycles in a row", labels=["source"]
        )
        remaining = GaugeMetricFamily(
            "mrt_source_ratelimit_remaining", "Requests the upstream still allows (last answer)",
            labels=["source"],
        )
        cursor_age = GaugeMetricFamily(
            "mrt_source_cursor_age_seconds",
            "Seconds since the source's cursor last advanced (its last successful cycle)",
            labels=["source"],
        )
        seen: set[str] = set()
        for s in scrape.source_gauges():
            key = label(s.key, secrets)
            if key in seen:  # two keys that sanitise alike: the first speaks for both
                continue
            seen.add(key)
            health.add_metric([key, label(s.health)], 1)
            failures.add_metric([key], s.consecutive_failures)
            if s.ratelimit_remaining is not None:
                remaining.add_metric([key], s.ratelimit_remaining)
            if s.last_success_at is not None:
                cursor_age.add_metric([key], max(0.0, (now - s.last_success_at).total_seconds()))
        yield from (health, failures, remaining, cursor_age)

        depth = GaugeMetricFamily(
            "mrt_outbox_queue_depth", "Deliveries waiting (pending, retrying, sending)",
            labels=["channel", "target"],
        )
        oldest = GaugeMetricFamily(
            "mrt_outbox_oldest_pending_age_seconds", "Age of the oldest delivery still waiting",
            labels=["channel", "target"],
        )
        dead = GaugeMetricFamily(
            "mrt_outbox_dead", "Dead letters kept until an operator retries or discards them",
            labels=["channel", "target"],
        )
        # two stored targets that sanitise to the same labels are one series, never two
        merged: dict[tuple[str, str], list[Any]] = {}
        for t in scrape.target_gauges():
            names = (label(t.channel, secrets), label(t.target, secrets))
            entry = merged.setdefault(names, [0, 0, None])
            entry[0] += t.depth
            entry[1] += t.dead
            if t.oldest_pending_at is not None:
                entry[2] = min(filter(None, (entry[2], t.oldest_pending_at)))
        for names, (n_depth, n_dead, first) in merged.items():
            depth.add_metric(list(names), n_depth)
            dead.add_metric(list(names), n_dead)
            if first is not None:
                oldest.add_metric(list(names), max(0.0, (now - first).total_seconds()))
        yield from (depth, oldest, dead)

        beat = GaugeMetricFamily(
            "mrt_worker_heartbeat_timestamp_seconds", "Each live worker's last heartbeat",
            labels=["worker", "version"],
        )
        leases = GaugeMetricFamily(
            "mrt_worker_leases_held", "Leases a live worker holds now, by kind (source, outbox)",
            labels=["worker", "kind"],
        )
        for w in scrape.worker_gauges(now):
            wid = label(w.worker_id, secrets)
            beat.add_metric([wid, label(w.version)], w.heartbeat_at.timestamp())
            leases.add_metric([wid, "source"], w.source_leases)
            leases.add_metric([wid, "outbox"], w.outbox_leases)
        yield from (beat, leases)


class AiCollector(Collector):
    """The AI step's counters, kept in the worker's process (mrt.ai.usage.AiUsage): requests
    and tokens by endpoint path (chat, embeddings), cache hits and fallbacks by capability
    (summary, triage, embedding). Counted since this worker started; no series until AI is
    used."""

    def __init__(self, usage: Callable[[], AiUsage]) -> None:
        self.usage = usage

    def collect(self) -> Iterator[Metric]:
        used = self.usage().copy()
        calls = CounterMetricFamily(
            "mrt_ai_calls", "AI requests that got a usable answer", labels=["endpoint"]
        )
        failures = CounterMetricFamily(
            "mrt_ai_failures", "AI requests that failed after their retries", labels=["endpoint"]
        )
        tokens = CounterMetricFamily(
            "mrt_ai_tokens", "Tokens the endpoint reported, by kind (prompt, completion)",
            labels=["endpoint", "kind"],
        )
        for endpoint, n in sorted(used.endpoints.items()):
            name = "chat" if endpoint.startswith("chat") else "embeddings"
            calls.add_metric([name], n.calls)
            failures.add_metric([name], n.failures)
            tokens.add_metric([name, "prompt"], n.prompt_tokens)
            tokens.add_metric([name, "completion"], n.completion_tokens)
        hits = CounterMetricFamily(
            "mrt_ai_cache_hits", "AI outputs taken from the cache instead of asked",
            labels=["capability"],
        )
        for capability, count in sorted(used.cache_hits.items()):
            hits.add_metric([label(capability)], count)
        fallbacks = CounterMetricFamily(
            "mrt_ai_fallbacks", "Alerts that went without AI's help (plain text, the rule's "
            "plain decision)", labels=["capability"],
        )
        for capability, count in sorted(used.fallbacks.items()):
            fallbacks.add_metric([label(capability)], count)
        yield from (calls, failures, tokens, hits, fallbacks)

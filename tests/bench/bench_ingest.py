"""Ingest: events through rules, dedupe and outbox enqueue on SQLite, against raw executemany.

    pipeline   mrt.pipeline.plan_event (20 rules, rendering) + mrt.store.cycle.commit_cycle,
               `ingest_batch` events per cycle, on a real migrated SQLite file
    limit      the very rows the pipeline wrote (events, alerts, outbox, snapshots, metrics),
               copied with one `executemany` per table in one transaction into a fresh file
    no news    a whole mrt.pipeline.run_source_cycle against a loopback FakeGitHub answering 304,
               against a bare httpx GET of the same URL with the same If-None-Match
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.bench.common import Row, Sizes, command_for, upstream_server
from tests.bench.corpus import T0, bench_rules, make_events

BENCH = "ingest"
FIGURES = ("pipeline", "rules only", "no-news cycle")
TABLES = ("event", "alert", "outbox", "resource_snapshot", "cycle_metric")


def _engine(db: Any, config: Any, pool: Any) -> Any:
    from mrt.delivery.channels import resolve_targets
    from mrt.pipeline import Engine
    from mrt.rules import compile_rules
    from mrt.sources import github

    return Engine(config=config, db=db, pool=pool, targets=resolve_targets(config, {}),
                  ruleset=compile_rules(config),
                  env={}, rng=random.Random(7), plugins={"github": github})


def run_pipeline(path: Path, events: list[Any], batch: int) -> tuple[float, int]:
    """Seconds to plan and commit every event, `batch` per cycle; returns (seconds, new)."""
    from mrt.config import config_from_dict
    from mrt.http import HttpPool
    from mrt.pipeline import plan_event
    from mrt.store import sources
    from mrt.store.cycle import CycleSuccess, commit_cycle
    from mrt.store.db import open_store, write_transaction

    db = open_store(path, now=T0)
    config = config_from_dict(bench_rules("json://127.0.0.1:9"))
    engine = _engine(db, config, HttpPool())
    keys = sorted({e.source_key for e in events})
    sources.ensure_states(((k, "github") for k in keys), T0)
    new = 0
    started = time.perf_counter()
    for start in range(0, len(events), batch):
        chunk = events[start: start + batch]
        now = chunk[-1].observed_at
        planned = [plan_event(engine, e, now) for e in chunk]
        key = chunk[0].source_key  # a cycle belongs to one source; the mix is the corpus's
        success = CycleSuccess(
            cursor={"since": now.isoformat()}, validators={}, degraded=None, http_status=200,
            snapshots={e.resource_id: {"state": e.details.get("state"), "labels": list(e.labels),
                                       "updated_at": e.observed_at.isoformat()} for e in chunk},
            ratelimit_remaining=4983, ratelimit_reset_at=None,
            next_poll_at=now + timedelta(minutes=5))
        with write_transaction(db):  # the caller owns the transaction, as the pipeline does
            counts = commit_cycle(db, key, planned, success, rule_digest=engine.ruleset.digest,
                                  rule_canonical=engine.ruleset.canonical,
                                  metric={"requests": 1, "fetched": len(chunk), "outcome": "ok"},
                                  now=now)
        new += counts.new_events
    seconds = time.perf_counter() - started
    db.close()
    return seconds, new


def run_rules_only(events: list[Any]) -> float:
    from mrt.config import config_from_dict
    from mrt.rules import compile_rules

    ruleset = compile_rules(config_from_dict(bench_rules("json://127.0.0.1:9")))
    started = time.perf_counter()
    for event in events:
        ruleset.evaluate(event, now=event.observed_at)
    return time.perf_counter() - started


def run_raw_copy(source: Path, dest: Path) -> tuple[float, int]:
    """The physical limit: the same rows, `executemany` per table, one transaction."""
    from mrt.store.db import open_store

    open_store(dest, now=T0).close()  # the same schema, indexes and triggers
    src = sqlite3.connect(source)
    rows = {t: src.execute(f"SELECT * FROM {t}").fetchall() for t in TABLES}
    columns = {t: len(src.execute(f"SELECT * FROM {t} LIMIT 0").description) for t in TABLES}
    rule_versions = src.execute("SELECT * FROM rule_version").fetchall()
    src.close()
    out = sqlite3.connect(dest, isolation_level=None)
    out.execute("PRAGMA journal_mode=wal")
    out.execute("PRAGMA synchronous=normal")
    out.execute("PRAGMA foreign_keys=1")
    out.execute("INSERT INTO rule_version VALUES (?, ?, ?, ?)", rule_versions[0])
    started = time.perf_counter()
    out.execute("BEGIN IMMEDIATE")
    for table in TABLES:
        marks = ", ".join("?" * columns[table])
        out.executemany(f"INSERT INTO {table} VALUES ({marks})", rows[table])
    out.execute("COMMIT")
    seconds = time.perf_counter() - started
    out.close()
    return seconds, len(rows["event"])


async def _no_news(runs: int) -> tuple[float, float]:
    """Mean seconds of a run_source_cycle that finds nothing (304) and of a bare 304 GET."""
    from test_source_support import FakeClock, FakeGitHub, make_pool, recorded_issues

    from mrt.config import ChannelConfig, Config
    from mrt.pipeline import build_specs, run_source_cycle
    from mrt.sources import github
    from mrt.store import sources
    from mrt.store.db import open_store

    with upstream_server() as server, tempfile.TemporaryDirectory() as tmp:
        FakeGitHub(server, "vllm-project/vllm", recorded_issues())
        db = open_store(Path(tmp) / "idle.sqlite3", now=T0)
        config = Config(
            watch_keywords=["deepseek"],
            sources={"github": github.Config(repos=["vllm-project/vllm"],
                                             base_url=server.url_for("/"))},
            channels={"hook": ChannelConfig(urls=["json://127.0.0.1:9/hook"])})
        clock = FakeClock()
        async with make_pool(clock) as pool:
            engine = _engine(db, config, pool)
            spec = build_specs(config, engine.plugins)[0]
            sources.ensure_states([(spec.key, "github")], T0)
            at = T0
            for _ in range(3):  # baseline, first steady (new URL: 200), then 304 from here on
                at += timedelta(minutes=5)
                await run_source_cycle(engine, spec, at)
            started = time.perf_counter()
            for _ in range(runs):
                at += timedelta(minutes=5)
                report = await run_source_cycle(engine, spec, at)
                assert report.new_events == 0 and report.requests == 1
            cycle = (time.perf_counter() - started) / runs
            state = sources.get_state(spec.key)
            url, validator = next(iter(state.validators.items()))
        db.close()
        async with httpx.AsyncClient(trust_env=False) as client:
            started = time.perf_counter()
            for _ in range(runs):
                answer = await client.get(url, headers={"If-None-Match": validator["etag"]})
                assert answer.status_code == 304
            bare = (time.perf_counter() - started) / runs
    return cycle, bare


def run(sizes: Sizes) -> list[Row]:
    cmd = command_for(BENCH, sizes.quick)
    events = make_events(sizes.ingest_events)
    with tempfile.TemporaryDirectory() as tmp:
        pipeline_s, new = run_pipeline(Path(tmp) / "pipeline.sqlite3", events, sizes.ingest_batch)
        raw_s, copied = run_raw_copy(Path(tmp) / "pipeline.sqlite3", Path(tmp) / "raw.sqlite3")
    assert copied == new, (copied, new)
    rules_s = run_rules_only(events)
    cycle_s, bare_s = asyncio.run(_no_news(sizes.idle_cycles))
    limit = copied / raw_s
    repeats = len(events) - new
    return [
        Row(BENCH, "pipeline", len(events) / pipeline_s, "events/s",
            "raw executemany, same rows", limit, cmd,
            f"{len(events):,} events ({repeats:,} repeats), {sizes.ingest_batch}/cycle, "
            f"{pipeline_s:.1f} s vs {raw_s:.2f} s"),
        Row(BENCH, "rules only", len(events) / rules_s, "events/s",
            "raw executemany, same rows", limit, cmd,
            f"RuleSet.evaluate, 20 rules, no database: {rules_s:.1f} s"),
        Row(BENCH, "no-news cycle", cycle_s * 1000, "ms/cycle", "bare httpx GET (304)",
            bare_s * 1000, cmd, f"run_source_cycle answered 304, mean of {sizes.idle_cycles}"),
    ]

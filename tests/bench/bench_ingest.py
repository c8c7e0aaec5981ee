"""Ingest: events through rules, dedupe and outbox enqueue on SQLite, against raw executemany.

    pipeline   mrt.pipeline.plan_event (20 rules, rendering) + mrt.store.cycle.commit_cycle,
               `ingest_batch` events per cycle, on a real migrated SQLite file
    store only the commit_cycle part of the same run: the set-based writes of each cycle's
               events, alerts, outbox rows, snapshots, cursor and metric (one transaction each)
    limit      the very rows the pipeline wrote (events, alerts, outbox, snapshots, metrics),
               copied with one `executemany` per table in one transaction into a fresh file
    limit, per cycle
               the same rows copied the same way, but in the transactions the pipeline
               committed them in: each cycle's rows and its cursor's move, one COMMIT a cycle
               (the product must commit once a cycle: the cursor moves with its events), the
               machine's limit for what the product promises. The one-transaction row stays
               beside it: it is the issue's baseline.
    no news    a whole mrt.pipeline.run_source_cycle against a loopback FakeGitHub answering 304,
               against a bare httpx GET of the same URL with the same If-None-Match

On PostgreSQL (not part of `python -m tests.bench`: it needs a server):

    python -m tests.bench.bench_ingest --postgres URL [--quick]

runs the same pipeline into a database made next to URL's, and copies its rows into another
with psycopg2's `execute_values` (multi-row VALUES: the fast way to hand PostgreSQL many rows;
its plain `executemany` is one round trip a row), one transaction.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.bench.common import Row, Sizes, command_for, upstream_server
from tests.bench.corpus import T0, bench_rules, make_events
from tests.bench.ingest_copy import (
    Took,
    run_raw_copy,
    run_raw_copy_pg,
    run_raw_cycles,
    run_raw_cycles_pg,
)

BENCH = "ingest"
FIGURES = ("pipeline", "store only", "pipeline, per-cycle baseline", "store only, per-cycle baseline",
           "rules only", "no-news cycle")


def _engine(db: Any, config: Any, pool: Any) -> Any:
    from mrt.delivery.channels import resolve_targets
    from mrt.pipeline import Engine
    from mrt.rules import compile_rules
    from mrt.sources import github

    return Engine(config=config, db=db, pool=pool, targets=resolve_targets(config, {}),
                  ruleset=compile_rules(config),
                  env={}, rng=random.Random(7), plugins={"github": github})


def run_pipeline(path: Path | str, events: list[Any], batch: int) -> tuple[Took, Took, int]:
    """The time to plan and commit every event, `batch` per cycle, and of it the time in
    commit_cycle (wall and CPU each); returns (pipeline time, store time, new)."""
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
    store = store_cpu = 0.0
    started, started_cpu = time.perf_counter(), time.process_time()
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
        planned_at, planned_cpu = time.perf_counter(), time.process_time()
        with write_transaction(db):  # the caller owns the transaction, as the pipeline does
            counts = commit_cycle(db, key, planned, success, rule_digest=engine.ruleset.digest,
                                  rule_canonical=engine.ruleset.canonical,
                                  metric={"requests": 1, "fetched": len(chunk), "outcome": "ok"},
                                  now=now)
        store += time.perf_counter() - planned_at
        store_cpu += time.process_time() - planned_cpu
        new += counts.new_events
    took = Took(time.perf_counter() - started, time.process_time() - started_cpu)
    db.close()
    return took, Took(store, store_cpu), new


def run_rules_only(events: list[Any]) -> float:
    from mrt.config import config_from_dict
    from mrt.rules import compile_rules

    ruleset = compile_rules(config_from_dict(bench_rules("json://127.0.0.1:9")))
    started = time.perf_counter()
    for event in events:
        ruleset.evaluate(event, now=event.observed_at)
    return time.perf_counter() - started


@contextlib.contextmanager
def pg_databases(url: str, names: tuple[str, ...]) -> Iterator[list[str]]:
    """Empty databases made next to the one of `url` (dropped afterwards)."""
    import psycopg2

    base, _, _ = url.rpartition("/")
    admin = psycopg2.connect(url)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            for name in names:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                cur.execute(f'CREATE DATABASE "{name}"')
        yield [f"{base}/{name}" for name in names]
    finally:
        with admin.cursor() as cur:
            for name in names:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


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


def _pipeline_rows(events: list[Any], batch: int, times: tuple[Took, Took, Took, Took],
                   copied: int, cmd: str, backend: str) -> list[Row]:
    pipeline, store, raw, cycles = times
    pipeline_s = pipeline.wall
    limit, per_cycle = copied / raw.wall, copied / cycles.wall
    repeats = len(events) - copied
    copy = f"raw {'executemany' if backend == 'SQLite' else 'execute_values'}, same rows"

    def cpu(took: Took, rows: int) -> str:  # this process's share: the server's is not in it
        return f"{took.wall:.2f} s (CPU {took.cpu / rows * 1e6:.0f} us an event)"

    return [
        Row(BENCH, "pipeline", len(events) / pipeline_s, "events/s", copy, limit, cmd,
            f"{backend}: {len(events):,} events ({repeats:,} repeats), {batch}/cycle, "
            f"{pipeline_s:.1f} s (of which commit_cycle {store.wall:.1f} s) vs "
            f"{raw.wall:.2f} s"),
        Row(BENCH, "store only", len(events) / store.wall, "events/s", copy, limit, cmd,
            f"{backend}: commit_cycle alone, {cpu(store, len(events))}: events, alerts, outbox, "
            f"snapshots, cursor, metric, one transaction a cycle (the copy: one in all, "
            f"{cpu(raw, copied)})"),
        Row(BENCH, "pipeline, per-cycle baseline", len(events) / pipeline_s, "events/s",
            f"{copy}, a COMMIT a cycle", per_cycle, cmd,
            f"{backend}: the copy in the pipeline's transactions (each cycle's rows and its "
            f"cursor update): {cpu(cycles, copied)}; the pipeline "
            f"{cpu(pipeline, len(events))}"),
        Row(BENCH, "store only, per-cycle baseline", len(events) / store.wall, "events/s",
            f"{copy}, a COMMIT a cycle", per_cycle, cmd,
            f"{backend}: commit_cycle {cpu(store, len(events))} against the per-cycle copy "
            f"{cpu(cycles, copied)}"),
    ]


def run(sizes: Sizes) -> list[Row]:
    cmd = command_for(BENCH, sizes.quick)
    events = make_events(sizes.ingest_events)
    with tempfile.TemporaryDirectory() as tmp:
        pipeline, store, new = run_pipeline(Path(tmp) / "pipeline.sqlite3", events,
                                            sizes.ingest_batch)
        raw, copied = run_raw_copy(Path(tmp) / "pipeline.sqlite3", Path(tmp) / "raw.sqlite3")
        cycles, _ = run_raw_cycles(Path(tmp) / "pipeline.sqlite3", Path(tmp) / "cycles.sqlite3")
    assert copied == new, (copied, new)
    rules_s = run_rules_only(events)
    cycle_s, bare_s = asyncio.run(_no_news(sizes.idle_cycles))
    limit = copied / raw.wall
    return [
        *_pipeline_rows(events, sizes.ingest_batch, (pipeline, store, raw, cycles),
                        copied, cmd, "SQLite"),
        Row(BENCH, "rules only", len(events) / rules_s, "events/s",
            "raw executemany, same rows", limit, cmd,
            f"RuleSet.evaluate, 20 rules, no database: {rules_s:.1f} s"),
        Row(BENCH, "no-news cycle", cycle_s * 1000, "ms/cycle", "bare httpx GET (304)",
            bare_s * 1000, cmd, f"run_source_cycle answered 304, mean of {sizes.idle_cycles}"),
    ]


def run_postgres(sizes: Sizes, url: str) -> list[Row]:
    """The pipeline and store-only rows on the PostgreSQL server of `url`."""
    cmd = "python -m tests.bench.bench_ingest --postgres URL" + (" --quick" if sizes.quick else "")
    events = make_events(sizes.ingest_events)
    names = ("mrt_bench_ingest", "mrt_bench_ingest_raw", "mrt_bench_ingest_cycles")
    with pg_databases(url, names) as (pipe, raw, per_cycle):
        pipeline, store, new = run_pipeline(pipe, events, sizes.ingest_batch)
        raw_took, copied = run_raw_copy_pg(pipe, raw)
        cycles, _ = run_raw_cycles_pg(pipe, per_cycle)
    assert copied == new, (copied, new)
    return _pipeline_rows(events, sizes.ingest_batch, (pipeline, store, raw_took, cycles),
                          copied, cmd, "PostgreSQL")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bench_ingest")
    parser.add_argument("--postgres", metavar="URL", required=True,
                        help="the pipeline and store-only rows on this PostgreSQL server (three "
                             "databases are made next to the URL's and dropped afterwards)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    args = parser.parse_args()
    for row in run_postgres(Sizes.small() if args.quick else Sizes.full(), args.postgres):
        print(f"{row.figure}: {row.value:,.0f} {row.unit} against {row.baseline_value:,.0f} "
              f"({row.baseline}): ratio {row.ratio:.3f}")
        print(f"- {row.note}")

"""The worker half of the footprint benchmark, in a process of its own so its memory is its own.

    python -m tests.bench.footprint_child --upstream URL --sink-port N --db FILE --ticks T

Builds the worker's engine, scheduler and sender for 50 sources (30 GitHub repos, 10 Hugging
Face and 10 ModelScope orgs, all on the loopback fakes of the parent) and drives
`Scheduler.tick(now)` + `Sender.run_once(now)` with a clock that advances one poll interval per
tick; before each tick it asks the parent to change a few upstream items at that instant. Prints
one JSON line: resident memory (VmRSS) before the first tick, after `warm` ticks and at the end.
Imports only the product and the standard library (no test helpers, no HTTP server).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

GITHUB_REPOS = 30
HF_ORGS = 10
MS_ORGS = 10
INTERVAL = 60


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def config_data(upstream: str, sink_port: int, db: str) -> dict[str, object]:
    return {
        "poll_interval_seconds": INTERVAL,
        "watch_keywords": ["deepseek", "qwen"],
        "state": {"sqlite_path": db},
        "sources": {
            "github": {"repos": [f"org{n}/repo{n}" for n in range(GITHUB_REPOS)],
                       "base_url": upstream},
            "huggingface": {"orgs": [f"hforg{n}" for n in range(HF_ORGS)], "base_url": upstream},
            "modelscope": {"orgs": [f"msorg{n}" for n in range(MS_ORGS)], "base_url": upstream},
        },
        "channels": {"hook": {"urls": [f"json://127.0.0.1:{sink_port}/footprint"]}},
        "delivery": {"min_interval_seconds": 0, "senders": 4},
    }


async def drive(args: argparse.Namespace) -> dict[str, object]:
    from mrt.config import config_from_dict
    from mrt.delivery import channels
    from mrt.delivery.sender import Sender
    from mrt.http import HostBudget, HttpPool
    from mrt.pipeline import Engine, build_specs
    from mrt.rules import compile_rules
    from mrt.store.db import open_store
    from mrt.store.models import Event, Outbox
    from worker.scheduler import Scheduler

    clock = [datetime(2026, 11, 22, 9, 0, tzinfo=UTC)]

    async def no_wait(_seconds: float) -> None:
        return None

    config = config_from_dict(config_data(args.upstream, args.sink_port, args.db))
    db = open_store(args.db, now=clock[0])
    targets = channels.resolve_targets(config, {})

    async def send(target: object, message: object, timeout: float) -> object:
        return await channels.send(target, message, timeout=timeout)  # type: ignore[arg-type]

    report: dict[str, object] = {}
    budget = HostBudget(concurrency=8, requests=1_000_000, window_seconds=60)
    async with HttpPool(sleep=no_wait, now=lambda: clock[0], budgets={"127.0.0.1": budget}) as pool:
        engine = Engine(config=config, db=db, pool=pool, targets=targets,
                        ruleset=compile_rules(config),
                        env={}, rng=random.Random(5))
        specs = build_specs(config, engine.plugins)
        scheduler = Scheduler(engine, specs, clock[0])
        sender = Sender(config, targets, send, "footprint", random.Random(5),
                        store_runner=asyncio.to_thread)
        report["sources"] = len(specs)
        report["rss_start_kib"] = rss_kib()
        cycles = 0
        for tick in range(args.ticks):
            clock[0] += timedelta(seconds=INTERVAL)
            urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                urllib.request.Request(f"{args.upstream}/_bench/advance?at={quote(clock[0].isoformat())}",
                                       method="POST"), timeout=30).read()
            reports = await scheduler.tick(clock[0])
            cycles += len(reports)
            failed = [r for r in reports if r.outcome != "ok"]
            if failed:
                raise RuntimeError(f"tick {tick}: {failed[0].source_key}: {failed[0].error}")
            await sender.run_once(clock[0])
            if tick + 1 == min(args.warm, args.ticks):
                report["rss_warm_kib"] = rss_kib()
                report["warm_cycles"] = cycles
        report["rss_end_kib"] = rss_kib()
        # its channel (json://) is keyed and sent without Apprise (mrt.delivery.target_urls,
        # mrt.delivery.webhook); Apprise would import every plugin it has: ~27 MiB
        report["apprise"] = "apprise" in sys.modules
        report["psycopg2"] = "psycopg2" in sys.modules  # loaded by a migration (mrt/deferred.py)
        report["cycles"] = cycles
        report["events"] = Event.select().count()
        report["deliveries"] = Outbox.select().count()
    db.close()
    return report


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--sink-port", type=int, required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--ticks", type=int, default=100)
    parser.add_argument("--warm", type=int, default=10)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(drive(args))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

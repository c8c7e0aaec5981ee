"""Delivery: drain outbox rows to a loopback webhook sink at a fixed concurrency.

    ours      mrt.delivery.sender.Sender (store calls in threads, as the worker runs it) with the
              real channel dispatcher (mrt.delivery.channels.send -> json:// through our pooled
              client, mrt.delivery.webhook), a rate budget that never binds, `concurrency`
              targets (a sender never sends two rows to one target at a time, so concurrency C
              needs C targets; with one target sends are serial)
    limit     a bare httpx.AsyncClient posting the same JSON bodies, C at a time
    huey      the same Apprise json:// sends as huey tasks on SqliteHuey, a C-thread consumer
              (tasks enqueued first, as the outbox rows are)

Plus the per-send cost, one at a time (the dispatcher, json:// through our pooled client, vs
one bare httpx POST), and a profile line saying where a plain Apprise send spends its time (what
huey's tasks and, before issue 13, our json:// sends paid).

And the cost of one claim as the sender makes it while a backlog waits (`claim_due(limit=1,
one_per_target=True)` with 7 of 8 targets busy), at 100,000 rows due against 1,000: no sends,
only the store. Alone: `python -m tests.bench.bench_delivery --claim-cost [--quick]`, and on
PostgreSQL with `--postgres URL`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import pstats
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.bench.common import Row, SinkHandle, Sizes, command_for, running_sink
from tests.bench.corpus import T0, make_events

BENCH = "delivery"
FIGURES = ("sender drain", "sender vs huey", "per-send cost", "claim cost")


def _config(sink: SinkHandle, concurrency: int) -> Any:
    from mrt.config import config_from_dict

    urls = [f"json://127.0.0.1:{sink.port}/hook/{n}" for n in range(concurrency)]
    # the rate budget path (the default since issue 13) with a budget that never binds and
    # folding off: the figure is the sender's own cost, claims and marks included
    return config_from_dict({
        "channels": {"hook": {"urls": urls, "rate": {"burst": 10_000, "per_minute": 100_000}}},
        "delivery": {"senders": concurrency, "fold_after_seconds": 0},
    })


def _messages(count: int) -> list[Any]:
    """Realistic rendered texts: the default chat template over the corpus's events."""
    from mrt.config import ChannelConfig, Config
    from mrt.delivery.render import render_message
    from mrt.rules import Decision, RuleMatch

    config = Config(channels={"hook": ChannelConfig(urls=["json://127.0.0.1:9/x"])})
    decision = Decision(action="notify", channels=("hook",), matched=(
        RuleMatch(rule="deepseek-v3", reasons=("title contained 'DeepSeek-V3'",)),))
    distinct = [render_message(config, "hook", [e], decision) for e in make_events(50)]
    return [distinct[n % len(distinct)] for n in range(count)]


def _fill_outbox(path: Path, targets: list[Any], messages: list[Any]) -> None:
    from mrt.store.db import open_store, write_transaction
    from mrt.store.models import Alert, Outbox

    db = open_store(path, now=T0)
    with write_transaction(db):
        alert_ids = []
        for start in range(0, len(messages), 500):
            chunk = messages[start: start + 500]
            Alert.insert_many([{"kind": "event", "title": m.subject or m.body[:80],
                                "created_at": T0} for m in chunk]).execute()
        alert_ids = [a.id for a in Alert.select(Alert.id).order_by(Alert.id)]
        rows = [{"alert": alert_ids[n], "channel": "hook", "target": targets[n % len(targets)].key,
                 "status": "pending", "subject": m.subject, "body": m.body,
                 "next_attempt_at": T0, "created_at": T0, "updated_at": T0}
                for n, m in enumerate(messages)]
        for start in range(0, len(rows), 500):
            Outbox.insert_many(rows[start: start + 500]).execute()
    db.close()


async def _drain_with_sender(path: Path, config: Any, targets: dict[str, list[Any]],
                             count: int) -> float:
    from mrt.delivery import channels
    from mrt.delivery.sender import Sender
    from mrt.events import utcnow
    from mrt.store.db import open_store

    async def send(target: Any, message: Any, timeout: float) -> Any:
        return await channels.send(target, message, timeout=timeout)

    db = open_store(path, now=T0)
    sender = Sender(config, targets, send, "bench", random.Random(1),
                    store_runner=asyncio.to_thread)
    # rows were enqueued at T0, in the past: due now
    started = time.perf_counter()
    report = await sender.run_until_idle(lambda: max(utcnow(), T0 + timedelta(seconds=1)))
    seconds = time.perf_counter() - started
    db.close()
    if report.sent != count:
        raise RuntimeError(f"the sender sent {report.sent} of {count}: {report.results[:3]}")
    return seconds


def _json_body(message: Any) -> bytes:
    """What Apprise's json:// posts (version, title, message, attachments, type)."""
    return json.dumps({"version": "1.0", "title": message.subject, "message": message.body,
                       "attachments": [], "type": "info"}).encode()


async def _drain_bare(sink: SinkHandle, messages: list[Any], concurrency: int) -> float:
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for n, message in enumerate(messages):
        queue.put_nowait((f"{sink.base}/hook/{n % concurrency}", _json_body(message)))

    async with httpx.AsyncClient(trust_env=False,
                                 limits=httpx.Limits(max_connections=concurrency)) as client:
        async def worker() -> None:
            while not queue.empty():
                url, body = queue.get_nowait()
                answer = await client.post(url, content=body,
                                           headers={"Content-Type": "application/json"})
                answer.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started


def _drain_huey(tmp: Path, sink: SinkHandle, messages: list[Any], concurrency: int) -> float:
    from huey import SqliteHuey

    queue = SqliteHuey("bench", filename=str(tmp / "huey.sqlite3"))

    @queue.task(retries=3, retry_delay=5)
    def deliver(url: str, title: str, body: str) -> None:
        # What a huey user writes for an Apprise target; a failure retries the task.
        if not _apprise_send(url, title, body):
            raise RuntimeError("delivery failed")

    for n, message in enumerate(messages):
        deliver(f"json://127.0.0.1:{sink.port}/hook/{n % concurrency}", message.subject,
                message.body)
    consumer = queue.create_consumer(workers=concurrency, worker_type="thread", periodic=False,
                                     initial_delay=0.001, backoff=1.15, max_delay=0.05,
                                     check_worker_health=False)
    base = sink.count()
    started = time.perf_counter()
    consumer.start()
    try:
        done = sink.wait_for(base + len(messages), timeout=600)
    finally:
        consumer.stop(graceful=True)
        for worker, _ in getattr(consumer, "worker_threads", []):
            if isinstance(worker, threading.Thread):
                worker.join(timeout=5)
    return done - started


def _apprise_send(url: str, title: str, body: str) -> bool:
    """One Apprise send the way a plain Apprise user (and our plugin, in a thread) makes it."""
    import apprise

    sender = apprise.Apprise(asset=apprise.AppriseAsset(storage_mode="memory"))
    sender.add(url)
    return bool(sender.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT))


async def _per_send(sink: SinkHandle, targets: list[Any], messages: list[Any]) -> tuple[
        float, float, str]:
    """Mean seconds of one send at a time: the dispatcher (json:// through our pooled client)
    vs a bare httpx POST, and a profile of the same sends made by plain Apprise in this thread
    (what huey's tasks make)."""
    from mrt.delivery import channels

    target = targets[0]
    for message in messages[:3]:  # warm: imports, plugin discovery
        await channels.send(target, message, timeout=20)
    started = time.perf_counter()
    for message in messages:
        outcome = await channels.send(target, message, timeout=20)
        assert outcome.ok, outcome
    ours = (time.perf_counter() - started) / len(messages)
    async with httpx.AsyncClient(trust_env=False) as client:
        started = time.perf_counter()
        for message in messages:
            answer = await client.post(f"{sink.base}/hook/0", content=_json_body(message),
                                       headers={"Content-Type": "application/json"})
            answer.raise_for_status()
        bare = (time.perf_counter() - started) / len(messages)
    profile = cProfile.Profile()
    profile.enable()
    for message in messages:
        _apprise_send(f"json://127.0.0.1:{sink.port}/hook/0", message.subject, message.body)
    profile.disable()
    return ours, bare, profile_line(profile)


def profile_line(profile: cProfile.Profile) -> str:
    """Where an Apprise send goes: the share of its time in a few places."""
    stats = pstats.Stats(profile, stream=io.StringIO())
    total = stats.total_tt  # type: ignore[attr-defined]
    shares: dict[str, float] = {}
    # Apprise 2.x posts from its own thread pool even for one target; the POST is `requests`
    # on a new connection each time.
    wanted = {"Apprise.add (URL parsing, plugin setup)": ("apprise/apprise.py", "add"),
              "waiting on Apprise's dispatch thread (the POST)": (
                  "apprise/apprise.py", "_notify_parallel_threadpool")}
    for (filename, _line, name), row in stats.stats.items():  # type: ignore[attr-defined]
        for label, (suffix, func) in wanted.items():
            if filename.endswith(suffix) and name == func:
                shares[label] = max(shares.get(label, 0.0), row[3])  # cumulative seconds
    parts = [f"{label} {100 * seconds / total:.0f}%" for label, seconds in shares.items()]
    return "profile of an Apprise send: " + ", ".join(parts)


def _fill_backlog(path: str, keys: list[str], count: int) -> None:
    """`count` pending rows over `keys` (round robin), enqueued through a day from T0: the
    backlog a channel that was down for that day leaves."""
    from mrt.store.db import open_store, write_transaction
    from mrt.store.models import Alert, Outbox

    alerts = -(-count // len(keys))  # one alert per len(keys) rows: (alert, target) is unique
    spacing = 86_400 / count
    db = open_store(path, now=T0)
    with write_transaction(db):
        for start in range(0, alerts, 500):
            Alert.insert_many([{"kind": "event", "title": f"release {n}", "created_at": T0}
                               for n in range(start, min(alerts, start + 500))]).execute()
        alert_ids = [a.id for a in Alert.select(Alert.id).order_by(Alert.id)]
        rows = []
        for n in range(count):
            at = T0 + timedelta(seconds=n * spacing)
            rows.append({"alert": alert_ids[n // len(keys)], "channel": "hook",
                         "target": keys[n % len(keys)], "status": "pending",
                         "subject": f"release {n}", "body": "body", "next_attempt_at": at,
                         "created_at": at, "updated_at": at})
            if len(rows) == 500:
                Outbox.insert_many(rows).execute()
                rows = []
        if rows:
            Outbox.insert_many(rows).execute()
    db.close()


def _claim_seconds(paths: dict[int, str], keys: list[str], samples: int,
                   rounds: int = 5) -> dict[int, list[float]]:
    """Seconds of each of `samples` claims per database, the way the sender makes one when a
    send finishes: one row, every other target still busy (the free target turns round).
    The databases take turns, `rounds` blocks each, so neither gets the quieter minutes of a
    shared machine."""
    from mrt.store import outbox
    from mrt.store.db import open_store
    from mrt.store.models import database_proxy

    now = T0 + timedelta(days=1, minutes=1)  # every backlog is wholly due
    dbs = {count: open_store(path, now=T0) for count, path in paths.items()}

    def claim(n: int) -> None:
        free = keys[n % len(keys)]
        got = outbox.claim_due("bench", now, limit=1, lease_seconds=86_400,
                               exclude_targets=[k for k in keys if k != free],
                               one_per_target=True)
        if [c.target for c in got] != [free]:
            raise RuntimeError(f"claim {n} got {got!r}, wanted a row of {free}")

    seconds: dict[int, list[float]] = {count: [] for count in paths}
    for db in dbs.values():  # warm: each file in the page cache, the first statements
        database_proxy.initialize(db)
        for n in range(len(keys)):
            claim(n)
    per_round = -(-samples // rounds)
    for _ in range(rounds):
        for count, db in dbs.items():
            database_proxy.initialize(db)
            for _ in range(min(per_round, samples - len(seconds[count]))):
                started = time.perf_counter()
                claim(len(seconds[count]))
                seconds[count].append(time.perf_counter() - started)
    for db in dbs.values():
        db.close()
    return seconds


@contextlib.contextmanager
def _claim_databases(counts: tuple[int, ...], postgres: str | None) -> Iterator[dict[int, str]]:
    """An empty database per backlog size: SQLite files, or databases made (and dropped) on
    the PostgreSQL server of the URL `postgres`."""
    if postgres is None:
        with tempfile.TemporaryDirectory() as tmp_name:
            yield {count: str(Path(tmp_name) / f"claim-{count}.sqlite3") for count in counts}
        return
    import psycopg2

    base, _, _ = postgres.rpartition("/")
    admin = psycopg2.connect(postgres)
    admin.autocommit = True
    names = {count: f"mrt_bench_claim_{count}" for count in counts}
    try:
        with admin.cursor() as cur:
            for name in names.values():
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                cur.execute(f'CREATE DATABASE "{name}"')
        yield {count: f"{base}/{name}" for count, name in names.items()}
    finally:
        with admin.cursor() as cur:
            for name in names.values():
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def claim_cost(sizes: Sizes, postgres: str | None = None) -> Row:
    from mrt.store.db import execute, open_database

    small, large = sizes.claim_backlogs
    keys = [f"json://127.0.0.1:9/hook/{n}" for n in range(8)]
    with _claim_databases((small, large), postgres) as paths:
        for count, path in paths.items():
            _fill_backlog(path, keys, count)
            if postgres:  # the statistics a running server's autovacuum would have gathered
                db = open_database(path)
                execute(db, "ANALYZE")
                db.close()
        seconds = _claim_seconds(paths, keys, sizes.claim_samples)
    means = {count: statistics.mean(s) * 1000 for count, s in seconds.items()}
    spread = {count: f"{count:,} due: mean {means[count]:.2f} ms, median "
                     f"{statistics.median(s) * 1000:.2f}, min {min(s) * 1000:.2f}"
              for count, s in seconds.items()}
    backend = "PostgreSQL" if postgres else "SQLite"
    return Row(BENCH, "claim cost", means[large], "ms/claim", f"the same claim, {small:,} due",
               means[small], command_for(BENCH, sizes.quick),
               f"claim_due(limit=1, one_per_target=True), 7 of 8 targets busy, mean of "
               f"{sizes.claim_samples} on {backend}: {spread[large]}; {spread[small]}")


def run(sizes: Sizes) -> list[Row]:
    from mrt.delivery.channels import resolve_targets

    cmd = command_for(BENCH, sizes.quick)
    count, concurrency = sizes.deliveries, sizes.concurrency
    messages = _messages(count)
    with running_sink() as sink, tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        config = _config(sink, concurrency)
        targets = resolve_targets(config, {})
        _fill_outbox(tmp / "outbox.sqlite3", targets["hook"], messages)
        base = sink.count()
        ours_s = asyncio.run(_drain_with_sender(tmp / "outbox.sqlite3", config, targets, count))
        if sink.count() - base != count:
            raise RuntimeError(f"the sink got {sink.count() - base} of {count}")
        bare_s = asyncio.run(_drain_bare(sink, messages, concurrency))
        huey_s = _drain_huey(tmp, sink, messages, concurrency)
        sample = messages[: sizes.profile_sends]
        one_ours, one_bare, profile = asyncio.run(_per_send(sink, targets["hook"], sample))
    return [
        Row(BENCH, "sender drain", count / ours_s, "msg/s", f"bare httpx, {concurrency} at once",
            count / bare_s, cmd,
            f"{count:,} rows, {concurrency} targets, senders={concurrency}: {ours_s:.1f} s "
            f"vs {bare_s:.1f} s"),
        Row(BENCH, "sender vs huey", count / ours_s, "msg/s",
            f"huey SqliteHuey, {concurrency} threads", count / huey_s, cmd,
            f"same Apprise json:// sends through huey: {huey_s:.1f} s"),
        Row(BENCH, "per-send cost", one_ours * 1000, "ms/send", "bare httpx POST",
            one_bare * 1000, cmd, f"one at a time, {len(sample)} sends; {profile}"),
        claim_cost(sizes),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bench_delivery")
    parser.add_argument("--claim-cost", action="store_true", required=True,
                        help="only the claim-cost figure (no sends, a minute or two)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--postgres", metavar="URL",
                        help="measure on this PostgreSQL server instead of SQLite (two "
                             "databases are made next to the URL's and dropped afterwards)")
    args = parser.parse_args()
    row = claim_cost(Sizes.small() if args.quick else Sizes.full(), args.postgres)
    print(f"{row.figure}: {row.value:.2f} {row.unit} against {row.baseline_value:.2f} "
          f"({row.baseline}): ratio {row.ratio:.2f}")
    print(f"- {row.note}")
    sys.exit(0)

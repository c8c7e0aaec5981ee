"""Latency: an upstream change to the webhook receiving its alert, with a one-second interval.

The real worker daemon (`mrt-worker --daemon`, a subprocess) watches one repository on a
loopback fake GitHub and alerts a loopback sink. The config's minimum interval is 10 s, so a
one-second interval is driven the way an operator's "poll now" is: this process sets the
source's poll_requested_at (mrt.store.sources.request_poll) every second, and the worker's 10 s
interval runs underneath. Each change closes an issue and puts "deepseek change K" in its
title at a known instant (time.time()); the sink stamps each arrival. p50 and p99 of
(arrival - change), against the interval (1 s) as the baseline.
"""

from __future__ import annotations

import copy
import json
import random
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.bench.common import (
    ROOT,
    Row,
    Sizes,
    child_env,
    command_for,
    percentile,
    running_sink,
    upstream_server,
)

BENCH = "latency"
FIGURES = ("change to webhook p50", "change to webhook p99", "burst of 20 p99",
           "burst of 20 messages", "v0 scenario, 14 messages")
REPO = "bench/latency"
POLL_EVERY = 1.0  # seconds: the interval this benchmark drives


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _wait_for_baseline(db_path: Path, proc: subprocess.Popen[bytes], timeout: float) -> None:
    import sqlite3

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mrt-worker --daemon exited with {proc.returncode}")
        if db_path.exists():
            try:
                with sqlite3.connect(db_path, timeout=5) as conn:
                    row = conn.execute("SELECT cursor FROM source_state WHERE source_key = ?",
                                       (f"github:{REPO}",)).fetchone()
                if row and row[0]:
                    return
            except sqlite3.OperationalError:
                pass  # not migrated yet
        time.sleep(0.1)
    raise TimeoutError("the worker did not record its baseline poll")


def _measure(changes: int, seed: int = 5) -> tuple[list[float], str]:
    from test_source_support import FakeGitHub, recorded_issues

    from mrt.events import utcnow
    from mrt.store import sources
    from mrt.store.db import open_database
    from tests.bench.bench_footprint import worker_command

    rng = random.Random(seed)
    with upstream_server() as server, running_sink() as sink, \
            tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        fake = FakeGitHub(server, REPO, recorded_issues())
        open_items = [n for n, item in enumerate(fake.issues) if item["state"] == "open"]
        if len(open_items) < changes:  # more changes than recorded open issues: reopen some
            open_items = list(range(len(fake.issues)))
        db_path = tmp / "latency.sqlite3"
        config = tmp / "config.json"
        config.write_text(json.dumps({
            "watch_keywords": ["deepseek change"],
            "state": {"sqlite_path": str(db_path)},
            "sources": {"github": {"repos": [REPO], "interval_seconds": 10,
                                   "base_url": server.url_for("/").rstrip("/")}},
            "channels": {"hook": {"urls": [f"json://127.0.0.1:{sink.port}/latency"]}},
        }))
        log = (tmp / "worker.log").open("wb")
        proc = subprocess.Popen([*worker_command(), "--daemon", "--config", str(config)],
                                stdout=log, stderr=subprocess.STDOUT, env=child_env(), cwd=ROOT)
        try:
            _wait_for_baseline(db_path, proc, timeout=60)
            db = open_database(db_path)
            changed: dict[int, float] = {}
            next_poll = time.time()
            next_change = time.time() + rng.uniform(0.5, 1.5)
            k = 0
            deadline = time.time() + changes * 3 + 30
            while time.time() < deadline:
                now = time.time()
                if now >= next_poll:
                    sources.request_poll(f"github:{REPO}", utcnow())
                    next_poll += POLL_EVERY
                if k < changes and now >= next_change:
                    index = open_items[k % len(open_items)]
                    item = copy.deepcopy(fake.issues[index])
                    item.update(title=f"deepseek change {k}: {item['title']}"[:200],
                                state="closed" if item["state"] == "open" else "open",
                                closed_at=_iso(now), updated_at=_iso(now))
                    fake.issues[index] = item  # one assignment: the server sees old or new
                    changed[k] = now
                    k += 1
                    next_change = now + rng.uniform(1.0, 2.0)
                if k == changes and len(_arrivals(sink)) >= changes:
                    break
                time.sleep(0.02)
            db.close()
            arrivals = _arrivals(sink)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()
        missing = [n for n in changed if n not in arrivals]
        if missing:
            tail = (tmp / "worker.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"no webhook for changes {missing}; worker log:\n{tail}")
    return [arrivals[n] - changed[n] for n in sorted(changed)], "poll now every 1 s"


def _arrivals(sink: Any) -> dict[int, float]:
    import re

    found: dict[int, float] = {}
    for at, _path, body in sink.arrivals():
        match = re.search(r"deepseek change (\d+):", body)
        if match:
            found.setdefault(int(match.group(1)), at)
    return found


def _new_issue(template: dict[str, Any], number: int, title: str, at: float) -> dict[str, Any]:
    item = copy.deepcopy(template)
    item.update(number=number, id=9_000_000_000 + number, title=title, body=f"{title}.",
                state="open", created_at=_iso(at), updated_at=_iso(at), closed_at=None,
                html_url=f"https://github.com/{REPO}/issues/{number}")
    return item


def _measure_burst(changes: int) -> tuple[list[float], int, int]:
    """`changes` new matching issues at one instant (one cycle), to one WeLink-style robot with
    its default budget (burst 10, 10 a minute) and fold bound (60 s): per change, the seconds to
    the robot's first message naming it; how many messages were folds; how many in all."""
    from test_source_support import FakeGitHub, recorded_issues

    from mrt.delivery.welink import DEFAULT_PATH
    from mrt.events import utcnow
    from mrt.store import sources
    from mrt.store.db import open_database
    from tests.bench.bench_footprint import worker_command

    with upstream_server() as server, running_sink() as sink, \
            tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        fake = FakeGitHub(server, REPO, recorded_issues())
        db_path = tmp / "burst.sqlite3"
        config = tmp / "config.json"
        robot = f"welink://bench-token@127.0.0.1:{sink.port}{DEFAULT_PATH}?secure=no"
        config.write_text(json.dumps({
            "watch_keywords": ["deepseek burst"],
            "state": {"sqlite_path": str(db_path)},
            "sources": {"github": {"repos": [REPO], "interval_seconds": 10,
                                   "base_url": server.url_for("/").rstrip("/")}},
            "channels": {"robot": {"urls": [robot]}},
        }))
        log = (tmp / "worker.log").open("wb")
        proc = subprocess.Popen([*worker_command(), "--daemon", "--config", str(config)],
                                stdout=log, stderr=subprocess.STDOUT, env=child_env(), cwd=ROOT)
        try:
            _wait_for_baseline(db_path, proc, timeout=60)
            db = open_database(db_path)
            template = next(i for i in fake.issues if "pull_request" not in i)
            at = time.time()
            fake.issues += [_new_issue(template, 90_000 + k, f"deepseek burst {k}: new kernel", at)
                            for k in range(changes)]  # one statement: one cycle sees them all
            deadline = at + 150
            while time.time() < deadline and len(_marked(sink, "burst")) < changes:
                sources.request_poll(f"github:{REPO}", utcnow())
                time.sleep(POLL_EVERY)
            db.close()
            arrivals = _marked(sink, "burst")
            bodies = [body for _at, _path, body in sink.arrivals()]
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()
        if len(arrivals) < changes:
            tail = (tmp / "worker.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{changes - len(arrivals)} of the burst never arrived:\n{tail}")
    folds = sum(1 for body in bodies if "alerts at once" in body)
    return [arrivals[k] - at for k in sorted(arrivals)], folds, len(bodies)


def _marked(sink: Any, word: str) -> dict[int, float]:
    """Change number -> first arrival whose body names it ("deepseek <word> K:")."""
    import re

    found: dict[int, float] = {}
    for at, _path, body in sink.arrivals():
        for match in re.finditer(rf"deepseek {word} (\d+):", body):
            found.setdefault(int(match.group(1)), at)
    return found


def run(sizes: Sizes) -> list[Row]:
    from tests.bench.v0_scenario import measure_v0_scenario

    cmd = command_for(BENCH, sizes.quick)
    burst = 20
    burst_latencies, folds, messages = _measure_burst(burst)
    v0_launch, v0_cycle, v0_count = measure_v0_scenario()
    rows = [
        Row(BENCH, "burst of 20 p99", percentile(burst_latencies, 99), "s", "poll interval",
            POLL_EVERY, cmd,
            f"{burst} new matching issues in one cycle to one WeLink-style robot, default budget "
            f"(burst 10, 10/min) and fold bound (60 s), poll now every 1 s; p50 "
            f"{percentile(burst_latencies, 50):.2f} s, max {max(burst_latencies):.2f} s"),
        Row(BENCH, "burst of 20 messages", float(messages), "messages",
            "one message per alert", float(burst), cmd,
            f"{folds} of them folded (a folded message lists several alerts; WeLink's 500 "
            "characters bound how many)"),
        Row(BENCH, "v0 scenario, 14 messages", v0_cycle, "s", "the 2 s target", 2.0, cmd,
            f"v0 example config, 7 matching changes, WeLink (sink) + email (aiosmtpd): "
            f"{v0_count} messages; last one {v0_cycle:.2f} s after the cycle started, "
            f"{v0_launch:.2f} s after `mrt-worker --once` was launched"),
    ]
    latencies, how = _measure(sizes.latency_changes)
    note = (f"{len(latencies)} changes, real mrt-worker --daemon, {how} "
            f"(the worker's own interval: 10 s); min {min(latencies):.2f} s, "
            f"max {max(latencies):.2f} s")
    return [
        Row(BENCH, "change to webhook p50", percentile(latencies, 50), "s",
            "poll interval", POLL_EVERY, cmd, note),
        Row(BENCH, "change to webhook p99", percentile(latencies, 99), "s",
            "poll interval", POLL_EVERY, cmd,
            "nearest rank: with fewer than 100 changes p99 is the largest"),
        *rows,
    ]

"""Webhook to chat: a signed GitHub delivery to its alert at a loopback sink, against a poll.

The real worker daemon (`mrt-worker --daemon`, a subprocess) watches one repository on a
loopback fake GitHub with a long interval (600 s: after the baseline poll it would not poll again
during the run) and listens for GitHub webhooks (`webhooks.github`) on loopback. This process
plays GitHub: it changes the fake (a new issue, or an open pull request merged) and posts the
signed delivery GitHub documents for it (tests/fixtures/upstream/github/webhooks/), alternately
`issues` opened and `pull_request` closed+merged, one at a time; the sink stamps each arrival
(time.time()). Then a burst: 20 new issues, their 20 deliveries posted at once.

Baseline, same worker, same run: the same kind of change found by a poll, driven every second
the way an operator's "poll now" is (mrt.store.sources.request_poll, as bench_latency.py does):
one change at a time for the p50/p99 rows, 20 new issues seen by one poll for the burst row.
Every change is alerted once (the poll after a webhook finds nothing new): counted in the notes.

    python -m tests.bench --only webhook [--quick]
    python -m tests.bench.bench_webhook [--quick]     # alone, with its own table
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.bench.common import (
    ROOT,
    Row,
    SinkHandle,
    Sizes,
    child_env,
    command_for,
    percentile,
    running_sink,
    upstream_server,
)

BENCH = "webhook"
FIGURES = ("webhook to chat p50", "webhook to chat p99", "webhook burst of 20 p99")
REPO = "bench/webhook"
KEY = f"github:{REPO}"
SECRET = "bench-webhook-secret"
POLL_EVERY = 1.0  # seconds: the baseline's "poll now" interval
BURST = 20


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _envelope(name: str, **fields: Any) -> dict[str, Any]:
    """GitHub's documented delivery (tests/fixtures/upstream/github/webhooks) for REPO."""
    from test_source_support import load

    payload: dict[str, Any] = load(f"github/webhooks/{name}.json")
    payload["repository"] = dict(payload["repository"], full_name=REPO, name=REPO.split("/")[1])
    payload.update(fields)
    return payload


def _pull_object(listed: dict[str, Any]) -> dict[str, Any]:
    """The pull request as the `pull_request` delivery carries it (GET /pulls/{n}'s shape)."""
    pull = {k: v for k, v in copy.deepcopy(listed).items() if k != "pull_request"}
    merged_at = listed["pull_request"].get("merged_at")
    pull.update(id=listed["id"] + 1, merged=merged_at is not None, merged_at=merged_at)
    return pull


def _signed(event: str, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    from worker.webhooks import signature_of

    body = json.dumps(payload).encode()
    return body, {"X-GitHub-Event": event, "X-GitHub-Delivery": str(uuid.uuid4()),
                  "X-Hub-Signature-256": signature_of(SECRET.encode(), body),
                  "Content-Type": "application/json"}


def _marked(sink: SinkHandle, word: str) -> dict[int, float]:
    """Change number -> first arrival naming it ("deepseek <word> K:"), and how many named it."""
    found: dict[int, float] = {}
    for at, _path, body in sink.arrivals():
        for match in re.finditer(rf"deepseek {word} (\d+):", body):
            found.setdefault(int(match.group(1)), at)
    return found


def _told(sink: SinkHandle) -> tuple[int, int]:
    """(messages, distinct changes they name): equal when no change was told twice."""
    bodies = [body for _at, _path, body in sink.arrivals()]
    names = [m.group(0) for body in bodies for m in re.finditer(r"deepseek \w+ \d+:", body)]
    return len(names), len(set(names))


@dataclass
class Scene:
    fake: Any  # test_source_support.FakeGitHub: its `issues` list is what GitHub serves
    sink: SinkHandle
    hook_url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> None:
        if self.proc.poll() is not None:
            tail = self.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"mrt-worker --daemon exited with {self.proc.returncode}:\n{tail}")

    def new_issue(self, number: int, title: str, at: float) -> dict[str, Any]:
        template = next(i for i in self.fake.issues if "pull_request" not in i)
        item = copy.deepcopy(template)
        item.update(number=number, id=9_000_000_000 + number, title=title, body=f"{title}.",
                    state="open", created_at=_iso(at), updated_at=_iso(at), closed_at=None,
                    state_reason=None, html_url=f"https://github.com/{REPO}/issues/{number}")
        return item

    def wait(self, done: Callable[[], bool], timeout: float, what: str,
             every: Callable[[], None] | None = None) -> None:
        deadline = time.monotonic() + timeout
        next_poke = time.monotonic()
        while not done():
            self.alive()
            if time.monotonic() > deadline:
                tail = self.log.read_text(errors="replace")[-2000:]
                raise TimeoutError(f"{what} did not arrive in {timeout:.0f} s; worker log:\n{tail}")
            if every is not None and time.monotonic() >= next_poke:
                every()
                next_poke += POLL_EVERY
            time.sleep(0.01)


@contextmanager
def _scene() -> Iterator[Scene]:
    from test_source_support import FakeGitHub, recorded_issues

    from tests.bench.bench_footprint import worker_command

    with upstream_server() as server, running_sink() as sink, \
            tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        fake = FakeGitHub(server, REPO, recorded_issues())
        port = _free_port()
        db_path = tmp / "webhook.sqlite3"
        config = tmp / "config.json"
        config.write_text(json.dumps({
            "watch_keywords": ["deepseek"],
            "state": {"sqlite_path": str(db_path)},
            "sources": {"github": {"repos": [REPO], "interval_seconds": 600,
                                   "base_url": server.url_for("/").rstrip("/"),
                                   "monitor": {"issues": True, "pulls": True}}},
            "channels": {"hook": {"urls": [f"json://127.0.0.1:{sink.port}/webhook"]}},
            "delivery": {"min_interval_seconds": 0},
            "webhooks": {"github": {"listen": f"127.0.0.1:{port}",
                                    "secret_env": "MRT_BENCH_HOOK_SECRET"}},
        }))
        log_path = tmp / "worker.log"
        log = log_path.open("wb")
        env = {**child_env(), "MRT_BENCH_HOOK_SECRET": SECRET}
        proc = subprocess.Popen([*worker_command(), "--daemon", "--config", str(config)],
                                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        scene = Scene(fake, sink, f"http://127.0.0.1:{port}/github", proc, log_path)
        try:
            scene.wait(lambda: _baseline_done(db_path), 60, "the baseline poll")
            yield scene
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()


def _baseline_done(db_path: Path) -> bool:
    import sqlite3

    if not db_path.exists():
        return False
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5) as conn:
            row = conn.execute("SELECT cursor FROM source_state WHERE source_key = ?",
                               (KEY,)).fetchone()
    except sqlite3.OperationalError:
        return False  # not migrated yet
    return bool(row and row[0])


def _post_all(url: str, deliveries: list[tuple[bytes, dict[str, str]]]) -> list[str]:
    """Post the deliveries at once (GitHub sends concurrently); the listener's answers."""
    import httpx

    async def post_all() -> list[str]:
        async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
            answers = await asyncio.gather(*(client.post(url, content=body, headers=headers)
                                             for body, headers in deliveries))
        return [f"{a.status_code} {a.text}" for a in answers]

    return asyncio.run(post_all())


def _one_by_webhook(scene: Scene, k: int, rng: random.Random, prs: list[dict[str, Any]]
                    ) -> tuple[float, str, float]:
    """Change k upstream and post its delivery: seconds from the post to its arrival, which
    event it was, and seconds from the post to the listener's answer (stored, not yet sent)."""
    time.sleep(rng.uniform(0.05, 0.3))
    now = time.time()
    title = f"deepseek hook {k}: webhook latency"
    if k % 2 and prs:  # a pull request merged
        from test_source_support import close

        pr = prs.pop(0)
        pr["title"] = title
        close(pr, datetime.fromtimestamp(now, UTC).replace(microsecond=0), merged=True)
        event = "pull_request"
        delivery = _signed(event, _envelope(
            "pull_request-closed", number=pr["number"], pull_request=_pull_object(pr)))
    else:  # an issue opened
        issue = scene.new_issue(70_000 + k, title, now)
        scene.fake.issues.append(issue)
        event = "issues"
        delivery = _signed(event, _envelope("issues-opened", issue=issue))
    sent = time.time()
    [answer] = _post_all(scene.hook_url, [delivery])
    answered = time.time() - sent
    if not answer.startswith("200 1 new events, 1 alerts"):
        raise RuntimeError(f"the listener answered {answer!r} to change {k}")
    scene.wait(lambda: k in _marked(scene.sink, "hook"), 30, f"webhook change {k}")
    return _marked(scene.sink, "hook")[k] - sent, event, answered


def _one_by_poll(scene: Scene, k: int, rng: random.Random, poke: Callable[[], None]) -> float:
    """A new issue upstream, found by the 1 s "poll now"; seconds from the change to arrival."""
    time.sleep(rng.uniform(0.0, POLL_EVERY))  # at a random phase of the poll interval
    now = time.time()
    scene.fake.issues.append(scene.new_issue(80_000 + k, f"deepseek poll {k}: found by poll", now))
    scene.wait(lambda: k in _marked(scene.sink, "poll"), 60, f"polled change {k}", every=poke)
    return _marked(scene.sink, "poll")[k] - now


def _burst_by_webhook(scene: Scene) -> list[float]:
    at = time.time()
    issues = [scene.new_issue(60_000 + k, f"deepseek burst {k}: at once", at) for k in range(BURST)]
    scene.fake.issues += issues
    deliveries = [_signed("issues", _envelope("issues-opened", issue=i)) for i in issues]
    sent = time.time()
    answers = _post_all(scene.hook_url, deliveries)
    bad = [a for a in answers if not a.startswith("200 1 new events")]
    if bad:
        raise RuntimeError(f"the listener answered {bad[:3]!r}")
    scene.wait(lambda: len(_marked(scene.sink, "burst")) >= BURST, 60, "the webhook burst")
    return [t - sent for t in _marked(scene.sink, "burst").values()]


def _burst_by_poll(scene: Scene, poke: Callable[[], None]) -> list[float]:
    at = time.time()
    scene.fake.issues += [scene.new_issue(50_000 + k, f"deepseek pollburst {k}: one poll", at)
                          for k in range(BURST)]  # one statement: one cycle sees them all
    scene.wait(lambda: len(_marked(scene.sink, "pollburst")) >= BURST, 90, "the polled burst",
               every=poke)
    return [t - at for t in _marked(scene.sink, "pollburst").values()]


def measure(changes: int, seed: int = 15) -> dict[str, Any]:
    from mrt.events import utcnow
    from mrt.store import sources
    from mrt.store.db import open_database

    rng = random.Random(seed)
    with _scene() as scene:
        db = open_database(scene.log.parent / "webhook.sqlite3")
        try:
            def poke() -> None:
                sources.request_poll(KEY, utcnow())

            prs = [i for i in scene.fake.issues if "pull_request" in i and i["state"] == "open"]
            told = [_one_by_webhook(scene, k, rng, prs) for k in range(changes)]
            hooked = [seconds for seconds, _event, _answered in told]
            answered = [seconds for _seconds, _event, seconds in told]
            merged = sum(event == "pull_request" for _seconds, event, _answered in told)
            burst = _burst_by_webhook(scene)
            polled = [_one_by_poll(scene, k, rng, poke) for k in range(changes)]
            burst_polled = _burst_by_poll(scene, poke)
            messages, distinct = _told(scene.sink)
        finally:
            db.close()
    return {"hooked": hooked, "polled": polled, "burst": burst, "burst_polled": burst_polled,
            "messages": messages, "distinct": distinct, "merged": merged, "answered": answered}


def run(sizes: Sizes) -> list[Row]:
    cmd = command_for(BENCH, sizes.quick)
    got = measure(sizes.latency_changes)
    hooked, polled = got["hooked"], got["polled"]
    twice = got["messages"] - got["distinct"]
    note = (f"{len(hooked)} signed deliveries one at a time to the real mrt-worker --daemon "
            f"(interval 600 s), issues opened and pull requests merged alternately "
            f"({got['merged']} merges); min {min(hooked):.3f} s, max {max(hooked):.3f} s; the "
            f"listener answered (stored) in {percentile(got['answered'], 50):.3f} s p50. "
            f"Baseline: {len(polled)} new issues found by poll now every 1 s, p50 "
            f"{percentile(polled, 50):.2f} s. {got['messages']} messages, "
            f"{twice} told twice")
    return [
        Row(BENCH, "webhook to chat p50", percentile(hooked, 50), "s",
            "1 s poll p50", percentile(polled, 50), cmd, note),
        Row(BENCH, "webhook to chat p99", percentile(hooked, 99), "s",
            "1 s poll p99", percentile(polled, 99), cmd,
            "nearest rank: with fewer than 100 deliveries p99 is the largest"),
        Row(BENCH, "webhook burst of 20 p99", percentile(got["burst"], 99), "s",
            "20 by one 1 s poll p99", percentile(got["burst_polled"], 99), cmd,
            f"{BURST} deliveries posted at once (p50 {percentile(got['burst'], 50):.3f} s); "
            f"baseline: {BURST} new issues seen by one poll, poll now every 1 s "
            f"(p50 {percentile(got['burst_polled'], 50):.2f} s)"),
    ]


if __name__ == "__main__":
    if __package__ in (None, ""):
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.bench.run import fmt, table

    quick = "--quick" in sys.argv[1:]
    rows = run(Sizes.small() if quick else Sizes.full())
    print(table(rows))
    for row in rows:
        print(f"- {row.figure}: {row.note} ({fmt(row.ratio)}x the baseline)")

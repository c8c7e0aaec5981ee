"""AI1 summaries: what they cost a burst of alerts, against the same burst with AI off.

    python -m tests.bench --only ai

N distinct events (the corpus's, one rule notifying each to a webhook) are planned and committed
by the real pipeline code into two SQLite files (one webhook target: one row per alert). From
the commit to the last delivery:
- off: the real Sender drains the rows to the loopback sink (the bench's sink process);
- on: the worker's summary step (mrt.ai_hooks.SummaryStep, 8 summaries at once) asks a fake
  OpenAI-compatible endpoint that answers every request after 200 ms, rewrites the rows, then
  the same Sender drains them.
Figures: alerts per second with summaries on (baseline: off), and the added time per alert
(on minus off, divided by N; baseline: the limit, 200 ms / 8 requests at once = 25 ms).
A single alert's added latency is in the note. The endpoint runs in a thread of this process
(its answers are sleeps); the sink in its own process.
"""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.bench.common import Row, Sizes, command_for, running_sink
from tests.bench.corpus import make_events

BENCH = "ai"
FIGURES = ("summaries on", "added time per alert")
ANSWER_SECONDS = 0.2


class _Endpoint(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        time.sleep(ANSWER_SECONDS)
        content = json.dumps({"lines": ["A model summary of the event.", "Its likely impact."]})
        answer = json.dumps({
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": len(str(body).split()), "completion_tokens": 9},
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def slow_endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Endpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def _config(sink_port: int, endpoint: str) -> Any:
    from mrt.config import config_from_dict

    return config_from_dict({
        "channels": {"hook": {"urls": [f"json://127.0.0.1:{sink_port}/hook"]}},
        "delivery": {"min_interval_seconds": 0},
        "rules": [{"name": "everything", "notify": ["hook"]}],
        "ai": {"enabled": True, "base_url": endpoint, "model": "bench-model",
               "requests_per_minute": 100_000, "summary_wait_seconds": 600},
    })


def _commit(path: Path, config: Any, events: list[Any]) -> Any:
    """The events through rules, rendering and one commit, as a cycle does; the open store."""
    from mrt.delivery.channels import resolve_targets
    from mrt.events import utcnow
    from mrt.http import HttpPool
    from mrt.pipeline import Engine, plan_event
    from mrt.rules import compile_rules
    from mrt.sources import github
    from mrt.store import sources
    from mrt.store.cycle import CycleSuccess, commit_cycle
    from mrt.store.db import open_store, write_transaction

    db = open_store(path)
    engine = Engine(config=config, db=db, pool=HttpPool(), targets=resolve_targets(config, {}),
                    ruleset=compile_rules(config), env={}, rng=random.Random(7),
                    plugins={"github": github})
    now = utcnow()
    key = events[0].source_key
    sources.ensure_states([(key, "github")], now)
    planned = [plan_event(engine, replace(e, source_key=key), now) for e in events]
    success = CycleSuccess(cursor={}, validators={}, degraded=None, http_status=200,
                           snapshots={}, ratelimit_remaining=None, ratelimit_reset_at=None,
                           next_poll_at=now + timedelta(minutes=5))
    with write_transaction(db):
        commit_cycle(db, key, planned, success, rule_digest=engine.ruleset.digest,
                     rule_canonical=engine.ruleset.canonical,
                     metric={"requests": 1, "fetched": len(events), "outcome": "ok"}, now=now)
    return engine


async def _deliver(engine: Any, config: Any, summaries: bool) -> tuple[float, int]:
    """Seconds from the commit to the last delivery; how many rows went out with a summary."""
    from mrt.ai.client import AiClient, AiSettings
    from mrt.ai_hooks import SummaryStep
    from mrt.delivery import channels
    from mrt.delivery.sender import Sender
    from mrt.events import utcnow
    from mrt.secrets import Scrubber

    async def send(target: Any, message: Any, timeout: float) -> Any:
        return await channels.send(target, message, timeout=timeout)

    sender = Sender(config, engine.targets, send, "bench", random.Random(1),
                    store_runner=asyncio.to_thread)
    started = time.perf_counter()
    summarised = 0
    if summaries:
        settings = AiSettings.from_config(config.ai, {})
        assert settings is not None
        async with AiClient(settings) as client:
            step = SummaryStep(config, client, engine.renderer, lambda: engine.targets,
                               engine.db, Scrubber())
            summarised = (await step.run(utcnow)).summarised
    report = await sender.run_until_idle(utcnow)
    seconds = time.perf_counter() - started
    if report.sent != len(report.results) or not report.sent:
        raise RuntimeError(f"the sender sent {report.sent}: {report.results[:3]}")
    return seconds, summarised


def _measure(tmp: Path, name: str, config: Any, events: list[Any], summaries: bool
             ) -> tuple[float, int]:
    engine = _commit(tmp / f"{name}.sqlite3", config, events)
    try:
        return asyncio.run(_deliver(engine, config, summaries))
    finally:
        engine.db.close()


def run(sizes: Sizes) -> list[Row]:
    cmd = command_for(BENCH, sizes.quick)
    count = 20 if sizes.quick else 200
    events = list({e.fingerprint: e for e in make_events(count * 2, repeat_share=0)}.values())
    events = events[:count]
    with running_sink() as sink, slow_endpoint() as endpoint, \
            tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        config = _config(sink.port, endpoint)
        off_s, _ = _measure(tmp, "off", config, events, summaries=False)
        on_s, summarised = _measure(tmp, "on", config, events, summaries=True)
        one_off, _ = _measure(tmp, "one-off", config, events[:1], summaries=False)
        one_on, _ = _measure(tmp, "one-on", config, events[:1], summaries=True)
    if summarised != count:
        raise RuntimeError(f"{summarised} of {count} alerts went out with a summary")
    limit_ms = ANSWER_SECONDS * 1000 / 8
    return [
        Row(BENCH, "summaries on", count / on_s, "alerts/s", "summaries off, same alerts",
            count / off_s, cmd,
            f"{count} alerts, endpoint answering in {ANSWER_SECONDS * 1000:.0f} ms, 8 asked at "
            f"once: {on_s:.2f} s vs {off_s:.2f} s off, commit to last delivery"),
        Row(BENCH, "added time per alert", (on_s - off_s) * 1000 / count, "ms/alert",
            "200 ms answer / 8 at once", limit_ms, cmd,
            f"one alert alone: {one_on * 1000:.0f} ms on vs {one_off * 1000:.0f} ms off "
            f"(+{(one_on - one_off) * 1000:.0f} ms; the endpoint's answer is 200 ms)"),
    ]

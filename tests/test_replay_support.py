"""Helpers for the replay and silence tests: a config file with a loopback GitHub and a loopback
JSON webhook, the real engine over it, and a sink that records what the webhook received.

Events are made by real cycles through mrt.pipeline (FakeGitHub over loopback serves the
recorded PyGithub issues, see test_source_support.py); deliveries go through the real Sender
and the real Apprise `json://` channel to the sink.
"""

from __future__ import annotations

import asyncio
import json
import random
from datetime import datetime
from pathlib import Path
from typing import Any

import peewee
from pytest_httpserver import HTTPServer
from test_source_support import T0, FakeClock, make_pool
from werkzeug import Request, Response

from mrt.config import Config, load_config
from mrt.delivery import channels
from mrt.delivery.sender import Sender
from mrt.pipeline import CycleReport, Engine, build_specs, run_source_cycle
from mrt.rules import compile_rules
from mrt.sources import github
from mrt.store import sources

REPO = "PyGithub/PyGithub"
SOURCE_KEY = f"github:{REPO}"


class Sink:
    """The loopback JSON webhook behind the `hook` channel: records every POSTed body."""

    def __init__(self, server: HTTPServer) -> None:
        self.received: list[dict[str, Any]] = []
        server.expect_request("/hook", method="POST").respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        self.received.append(json.loads(request.get_data()))
        return Response("{}", status=200, content_type="application/json")


def config_data(server: HTTPServer, db_path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "watch_keywords": ["deepseek"],
        "sources": {"github": {"repos": [REPO], "base_url": server.url_for("/")}},
        "channels": {"hook": {"urls": [f"json://127.0.0.1:{server.port}/hook"]}},
        "state": {"sqlite_path": str(db_path)},
        **extra,
    }


def write_config(path: Path, data: dict[str, Any]) -> Config:
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return load_config(path, env={})


def make_engine(db: peewee.Database, config: Config) -> Engine:
    return Engine(
        config=config,
        db=db,
        pool=make_pool(FakeClock()),
        targets=channels.resolve_targets(config, {}),
        ruleset=compile_rules(config),
        env={},
        rng=random.Random(7),
        plugins={"github": github},
    )


def run_cycle(engine: Engine, at: datetime) -> CycleReport:
    [spec] = build_specs(engine.config, engine.plugins)
    sources.ensure_states([(spec.key, spec.plugin)], T0)
    return asyncio.run(run_source_cycle(engine, spec, at))


def drain(config: Config, now: datetime) -> int:
    """Deliver every due outbox row through the real channel plugin; returns how many were sent."""
    sender = Sender(
        config.model_copy(
            update={"delivery": config.delivery.model_copy(update={"min_interval_seconds": 0})}
        ),
        channels.resolve_targets(config, {}),
        lambda target, message, timeout: channels.send(target, message, timeout=timeout),
        owner="test",
        rng=random.Random(3),
    )
    return asyncio.run(sender.run_once(now)).sent


def test_the_sink_receives_what_the_sender_delivers(
    db: peewee.Database, db_path: Path, tmp_path: Path, httpserver: HTTPServer
) -> None:
    from mrt.delivery.base import Message
    from mrt.store.models import Alert
    from mrt.store.outbox import enqueue

    sink = Sink(httpserver)
    config = write_config(tmp_path / "c.json", config_data(httpserver, db_path))
    [target] = channels.resolve_targets(config, {})["hook"]
    alert = Alert.create(title="t", created_at=T0)
    enqueue(int(alert.id), "hook", target.key, Message("subject", "hello body"), T0)
    assert drain(config, T0) == 1
    assert len(sink.received) == 1 and "hello body" in json.dumps(sink.received[0])

"""Shared by the noise tests: an Engine over loopback GitHub with the given rules, and one
cycle at a given time. No tests live here."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime
from typing import Any

import peewee
from pytest_httpserver import HTTPServer
from test_source_support import T0, FakeClock, make_pool

from mrt.config import ChannelConfig, Config, DeliveryConfig, RuleConfig
from mrt.delivery import channels
from mrt.pipeline import CycleReport, Engine, build_specs, run_source_cycle
from mrt.rules import compile_rules
from mrt.sources import github
from mrt.store import sources

REPO = "PyGithub/PyGithub"


def make_engine(
    db: peewee.Database, server: HTTPServer, rules: list[dict[str, Any]], **config: Any
) -> Engine:
    config.setdefault(
        "channels", {"hook": ChannelConfig(urls=[f"json://127.0.0.1:{server.port}/hook"])}
    )
    cfg = Config(
        sources={
            "github": github.Config(repos=[REPO], base_url=server.url_for("/"), issue_edited=True)
        },
        rules=[RuleConfig.model_validate(r) for r in rules],
        delivery=DeliveryConfig(min_interval_seconds=0),
        **config,
    )
    engine = Engine(
        config=cfg,
        db=db,
        pool=make_pool(FakeClock()),
        targets=channels.resolve_targets(cfg, {}),
        ruleset=compile_rules(cfg),
        env={},
        rng=random.Random(7),
        plugins={"github": github},
    )
    sources.ensure_states(((s.key, s.plugin) for s in build_specs(cfg, engine.plugins)), T0)
    return engine


def cycle(engine: Engine, at: datetime) -> CycleReport:
    spec = build_specs(engine.config, engine.plugins)[0]
    return asyncio.run(run_source_cycle(engine, spec, at))


def first_issue(issues: list[dict[str, Any]]) -> dict[str, Any]:
    return next(i for i in issues if "pull_request" not in i)

"""The scheduler's `tick` reports every cycle it started, even one that ended without a report
of its own (cancelled under it), so `--once` can never leave a source out (issue 19 item 5)."""

from __future__ import annotations

import asyncio
import types
from typing import Any

import peewee
from pytest_httpserver import HTTPServer
from test_pipeline_cycle import REPO, make_engine
from test_source_support import T0, FakeClock

from mrt.pipeline import build_specs
from mrt.sources import github
from worker.scheduler import Scheduler


async def cancelled_poll(spec: Any, ctx: Any) -> Any:
    raise asyncio.CancelledError  # e.g. a shutdown cancelling the cycle's task


def test_a_cycle_without_a_report_is_reported_failed(
    db: peewee.Database, httpserver: HTTPServer
) -> None:
    engine = make_engine(db, httpserver, FakeClock())
    plugin = types.SimpleNamespace(instances=github.instances, poll=cancelled_poll)
    engine.plugins = {"github": plugin}  # type: ignore[dict-item]
    scheduler = Scheduler(engine, build_specs(engine.config, engine.plugins), T0)
    reports = asyncio.run(scheduler.tick(T0))
    assert [(r.source_key, r.outcome) for r in reports] == [(f"github:{REPO}", "failed")]
    assert reports[0].error and "crashed: CancelledError" in reports[0].error

"""A cycle's outcome is reported even where it cannot be recorded, and the scheduler reports
every cycle it started, so `--once` can never leave a source out (issue 19 item 5). The stages
end to end are in test_e2e_cycle_outcome.py."""

from __future__ import annotations

import asyncio
import types
from typing import Any

import peewee
from pytest_httpserver import HTTPServer
from test_pipeline_cycle import REPO, make_engine
from test_source_support import T0, FakeClock

from mrt.pipeline import build_specs, run_source_cycle
from mrt.sources import github
from mrt.store.models import CycleMetric
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


def test_a_failure_the_database_cannot_record_is_still_reported(
    db: peewee.Database, httpserver: HTTPServer
) -> None:
    engine = make_engine(db, httpserver, FakeClock())
    spec = build_specs(engine.config, engine.plugins)[0]
    # no state row for the source (never ensured): the cycle cannot start, nor record that
    report = asyncio.run(run_source_cycle(engine, spec, T0))
    assert report.outcome == "failed" and report.error
    assert report.error.startswith("setup failed: SourceStateDoesNotExist")
    assert "(not recorded: SourceStateDoesNotExist" in report.error
    assert CycleMetric.select().count() == 0  # the record was one transaction: nothing half kept
    assert not httpserver.log  # and nothing was asked upstream

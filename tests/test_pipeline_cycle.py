"""One source cycle end to end on a real SQLite file: loopback GitHub, real rules, real
rendering, outbox rows; failures and rate limits never move the cursor."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any

import peewee
import pytest
from pytest_httpserver import HTTPServer
from test_source_support import T0, FakeClock, FakeGitHub, close, make_pool, recorded_issues
from werkzeug import Response

from mrt.alerting import Renderer
from mrt.config import ChannelConfig, Config, ObservabilityConfig
from mrt.delivery.channels import resolve_targets
from mrt.pipeline import Engine, build_specs, run_source_cycle
from mrt.rules import compile_rules
from mrt.sources import github
from mrt.store import sources
from mrt.store.models import Alert, CycleMetric, Event, Outbox, ResourceSnapshot, SourceState

REPO = "PyGithub/PyGithub"


def make_engine(db: peewee.Database, server: HTTPServer, clock: FakeClock, **config: Any) -> Engine:
    cfg = Config(
        watch_keywords=["deepseek"],
        sources={"github": github.Config(repos=[REPO], base_url=server.url_for("/"))},
        channels={"hook": ChannelConfig(urls=[f"json://127.0.0.1:{server.port}/hook"])},
        **config,
    )
    targets = resolve_targets(cfg, {})
    return Engine(
        config=cfg,
        db=db,
        pool=make_pool(clock),
        targets=targets,
        ruleset=compile_rules(cfg),
        env={},
        rng=random.Random(7),
        plugins={"github": github},
    )


@pytest.fixture
def engine(db: peewee.Database, httpserver: HTTPServer) -> Engine:
    e = make_engine(db, httpserver, FakeClock())
    sources.ensure_states(((s.key, s.plugin) for s in build_specs(e.config, e.plugins)), T0)
    return e


def cycle(engine: Engine, at: Any) -> Any:
    spec = build_specs(engine.config, engine.plugins)[0]
    return asyncio.run(run_source_cycle(engine, spec, at))


def state() -> SourceState:
    return SourceState.get_by_id(f"github:{REPO}")


def test_baseline_then_one_alert_per_matching_change(
    engine: Engine, httpserver: HTTPServer
) -> None:
    issues = recorded_issues()
    fake = FakeGitHub(httpserver, REPO, issues)
    first = cycle(engine, T0)
    assert first.outcome == "ok" and first.new_events == 0 and first.alerts == 0
    assert state().cursor is not None and ResourceSnapshot.select().count() == len(issues)

    target, other = issues[0], issues[1]
    target["title"] = "Support DeepSeek-V3 tokenizer"
    close(target, T0 + timedelta(minutes=5))
    close(other, T0 + timedelta(minutes=6))
    second = cycle(engine, T0 + timedelta(minutes=10))
    assert second.outcome == "ok" and second.new_events == 2 and second.alerts == 1
    alert = Alert.get()
    assert "DeepSeek" in alert.title and alert.matched[0]["rule"] == "watch_keywords"
    row = Outbox.get()
    assert row.alert_id == alert.id and row.status == "pending" and row.channel == "hook"
    assert "DeepSeek" in row.body and target["html_url"] in row.body
    decisions = sorted(e.decision for e in Event.select())
    assert decisions == ["none", "notify"]

    # nothing changed upstream: no new event, no second alert, answered 304
    third = cycle(engine, T0 + timedelta(minutes=20))
    assert third.new_events == 0 and Alert.select().count() == 1 and Outbox.select().count() == 1
    # the cursor moved, so that was a new URL; asked again unchanged, it is a 304
    fourth = cycle(engine, T0 + timedelta(minutes=30))
    assert fourth.new_events == 0 and fourth.requests == 1
    assert fake.requests[-1].headers.get("If-None-Match")
    assert CycleMetric.select().order_by(CycleMetric.id.desc()).get().http_statuses == {"304": 1}
    assert CycleMetric.select().count() == 4


def test_failed_poll_keeps_the_cursor_and_counts_failures(
    engine: Engine, httpserver: HTTPServer
) -> None:
    FakeGitHub(httpserver, REPO, recorded_issues())
    cycle(engine, T0)
    before = state().cursor
    httpserver.clear()
    httpserver.expect_request(f"/repos/{REPO}/issues").respond_with_response(
        Response("upstream down", status=502)
    )
    report = cycle(engine, T0 + timedelta(minutes=5))
    assert report.outcome == "failed" and "502" in (report.error or "")
    after = state()
    assert after.cursor == before
    assert after.consecutive_failures == 1 and after.health == "failing"
    assert after.last_http_status == 502 and after.last_error_class
    assert CycleMetric.select().order_by(CycleMetric.id.desc()).get().outcome == "failed"


def test_operators_are_told_once_when_a_source_keeps_failing_and_once_when_it_recovers(
    db: peewee.Database, httpserver: HTTPServer
) -> None:
    e = make_engine(
        db, httpserver, FakeClock(), observability=ObservabilityConfig(failure_alert_after=2)
    )
    sources.ensure_states([(f"github:{REPO}", "github")], T0)
    FakeGitHub(httpserver, REPO, recorded_issues())
    cycle(e, T0)
    httpserver.clear()
    httpserver.expect_request(f"/repos/{REPO}/issues").respond_with_response(
        Response("", status=500)
    )
    for minute in (5, 10, 15):
        cycle(e, T0 + timedelta(minutes=minute))
    health = list(Alert.select().where(Alert.kind == "source_health"))
    assert len(health) == 1 and "2 polls in a row" in health[0].title
    assert Outbox.select().where(Outbox.alert == health[0].id).count() == 1
    httpserver.clear()
    FakeGitHub(httpserver, REPO, recorded_issues())
    cycle(e, T0 + timedelta(minutes=20))
    titles = [
        a.title for a in Alert.select().where(Alert.kind == "source_health").order_by(Alert.id)
    ]
    assert len(titles) == 2 and "recovered" in titles[1]
    assert state().consecutive_failures == 0 and not state().failure_notified


def test_rate_limit_defers_without_failing(engine: Engine, httpserver: HTTPServer) -> None:
    FakeGitHub(httpserver, REPO, recorded_issues())
    cycle(engine, T0)
    before = state().cursor
    reset = int((T0 + timedelta(minutes=30)).timestamp())
    httpserver.clear()
    httpserver.expect_request(f"/repos/{REPO}/issues").respond_with_response(
        Response(
            '{"message": "API rate limit exceeded"}',
            status=403,
            headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
        )
    )
    report = cycle(engine, T0 + timedelta(minutes=5))
    assert report.outcome == "deferred"
    s = state()
    assert s.cursor == before and s.consecutive_failures == 0 and s.health == "deferred"
    assert s.deferred_until is not None and s.deferred_until >= T0 + timedelta(minutes=29)
    key = f"github:{REPO}"
    assert sources.due_keys([key], T0 + timedelta(minutes=10)) == []
    sources.request_poll(key, T0 + timedelta(minutes=10))  # even "poll now" waits for the reset
    assert sources.due_keys([key], T0 + timedelta(minutes=10)) == []
    assert sources.due_keys([key], T0 + timedelta(minutes=31)) == [key]


def _broken_template_engine(db: peewee.Database, server: HTTPServer, policy: str) -> Engine:
    from mrt.config import DeliveryConfig

    e = make_engine(db, server, FakeClock(), delivery=DeliveryConfig(cursor_policy=policy))  # type: ignore[arg-type]
    cfg = e.config.model_copy(
        update={
            "channels": {
                "hook": ChannelConfig(urls=e.config.channels["hook"].urls, template="{{ nope.x }}")
            }
        }
    )
    e.config = cfg
    e.renderer = Renderer(cfg)
    sources.ensure_states([(f"github:{REPO}", "github")], T0)
    return e


@pytest.mark.parametrize("policy", ["strict", "best-effort"])
def test_cursor_policy_on_a_template_error(
    db: peewee.Database, httpserver: HTTPServer, policy: str
) -> None:
    e = _broken_template_engine(db, httpserver, policy)
    issues = recorded_issues()
    FakeGitHub(httpserver, REPO, issues)
    cycle(e, T0)
    before = state().cursor
    issues[0]["title"] = "deepseek support"
    close(issues[0], T0 + timedelta(minutes=5))
    report = cycle(e, T0 + timedelta(minutes=10))
    if policy == "strict":
        assert report.outcome == "failed" and "hook" in (report.error or "")
        assert state().cursor == before and Event.select().count() == 0
    else:
        assert report.outcome == "ok"
        failed = Event.get(Event.decision == "failed")
        assert failed.error and "hook" in failed.error
        assert state().cursor != before and Outbox.select().count() == 0


def test_a_poll_asked_for_during_a_cycle_is_not_lost(
    engine: Engine, httpserver: HTTPServer
) -> None:
    FakeGitHub(httpserver, REPO, recorded_issues())
    key = f"github:{REPO}"
    sources.request_poll(key, T0)  # answered by the cycle that starts at T0
    cycle(engine, T0)
    assert state().poll_requested_at is None
    sources.request_poll(key, T0 + timedelta(minutes=1))  # asked while that cycle ran
    cycle(engine, T0)  # a cycle that started before the request
    assert state().poll_requested_at == T0 + timedelta(minutes=1)
    assert sources.due_keys([key], T0 + timedelta(minutes=1)) == [key]

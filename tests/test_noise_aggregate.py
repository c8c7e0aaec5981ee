"""Aggregation end to end: loopback GitHub, real rules, real SQLite, driven clock.

12 edits of one issue in 5 minutes -> no message while the window is open, then exactly one
alert listing all 12, delivered over loopback; a second flush creates nothing.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
from datetime import datetime, timedelta
from typing import Any

import peewee
from pytest_httpserver import HTTPServer
from test_noise_support import REPO, cycle, first_issue, make_engine
from test_source_support import T0, FakeClock, FakeGitHub, make_pool, recorded_issues, touch

from mrt.alerting import Renderer
from mrt.config import AggregationConfig, ChannelConfig, Config, RuleConfig
from mrt.delivery import channels
from mrt.delivery.sender import Sender
from mrt.noise.aggregate import flush_due_aggregates
from mrt.pipeline import Engine
from mrt.rules import compile_rules
from mrt.store import noise
from mrt.store.models import AggregateBucket, AggregateMember, Alert, AlertEvent, Event, Outbox

EDITS = 12


AGGREGATE_EDITS = [
    {"name": "edits", "when": {"event_type": "issue_edited"}, "aggregate": {"window_minutes": 10}}
]


def edit_twelve_times(engine: Engine, issues: list[dict[str, Any]]) -> list[datetime]:
    """12 cycles, 25 s apart from T0+1min (the last at T0+5:35), each seeing one title edit."""
    issue = first_issue(issues)
    times = []
    for n in range(EDITS):
        at = T0 + timedelta(minutes=1, seconds=25 * n)
        touch(issue, at - timedelta(seconds=1), title=f"Edit {n}: DeepSeek tokenizer")
        report = cycle(engine, at)
        assert report.outcome == "ok" and report.new_events == 1 and report.alerts == 0
        times.append(at)
    return times


def test_twelve_updates_in_five_minutes_become_one_message_listing_twelve(
    db: peewee.Database, httpserver: HTTPServer
) -> None:
    engine = make_engine(db, httpserver, AGGREGATE_EDITS)
    issues = recorded_issues()
    FakeGitHub(httpserver, REPO, issues)
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    assert cycle(engine, T0).outcome == "ok"  # baseline
    times = edit_twelve_times(engine, issues)
    assert times[-1] - times[0] < timedelta(minutes=5)

    # every member is committed with its cycle, in one open bucket; nothing to send yet
    assert Event.select().where(Event.decision == "aggregate").count() == EDITS
    bucket = AggregateBucket.get()
    assert AggregateMember.select().count() == EDITS
    assert bucket.window_end == times[0] + timedelta(minutes=10) and bucket.flushed_at is None
    assert bucket.channels == ["hook"]
    assert Outbox.select().count() == 0 and Alert.select().count() == 0

    before_end = bucket.window_end - timedelta(seconds=1)
    assert flush_due_aggregates(db, engine.targets, engine.renderer, before_end) == 0
    assert Outbox.select().count() == 0

    assert flush_due_aggregates(db, engine.targets, engine.renderer, bucket.window_end) == 1
    alert = Alert.get()
    assert alert.kind == "aggregate" and alert.group_key == bucket.group_key
    assert alert.payload["members"] == EDITS and alert.source_key == f"github:{REPO}"
    assert [m["rule"] for m in alert.matched] == ["edits"]
    members = [link.event_id for link in AlertEvent.select().where(AlertEvent.alert == alert)]
    assert sorted(members) == sorted(e.id for e in Event.select())
    row = Outbox.get()
    assert row.alert_id == alert.id and row.channel == "hook" and row.status == "pending"
    assert f"{EDITS} updates" in row.body and "and 2 more" in row.body  # 10 listed, 2 more
    assert AggregateBucket.get().alert_id == alert.id

    # a second flush (or another worker's) creates nothing
    later = bucket.window_end + timedelta(minutes=1)
    assert flush_due_aggregates(db, engine.targets, engine.renderer, later) == 0
    assert Alert.select().count() == 1 and Outbox.select().count() == 1

    # the outbox row is deliverable: the real sender posts it to the loopback hook
    sender = Sender(engine.config, engine.targets, channels_send, owner="t", rng=random.Random(1))
    report = asyncio.run(sender.run_until_idle(lambda: later))
    assert report.sent == 1 and Outbox.get().status == "sent"
    posted = [r for r in httpserver.log if r[0].path == "/hook"]
    assert len(posted) == 1
    body = json.loads(posted[0][0].get_data())
    assert f"{EDITS} updates" in body["message"] and "Edit 0" in body["message"]


async def channels_send(target: Any, message: Any, timeout: float) -> Any:
    return await channels.send(target, message, timeout=timeout)


def test_members_survive_a_crash_after_the_cycle_and_a_new_window_opens_after_the_flush(
    db: peewee.Database, db_path: Any, httpserver: HTTPServer
) -> None:
    engine = make_engine(db, httpserver, AGGREGATE_EDITS)
    issues = recorded_issues()
    FakeGitHub(httpserver, REPO, issues)
    cycle(engine, T0)
    issue = first_issue(issues)
    touch(issue, T0 + timedelta(minutes=1), title="first edit")
    cycle(engine, T0 + timedelta(minutes=1, seconds=5))

    # another connection (another process after a crash) sees the member committed
    other = sqlite3.connect(db_path)
    try:
        assert other.execute("SELECT COUNT(*) FROM aggregate_member").fetchone()[0] == 1
    finally:
        other.close()
    # the bucket (not memory) carries it to the flush
    end = AggregateBucket.get().window_end
    assert flush_due_aggregates(db, engine.targets, engine.renderer, end) == 1

    # an edit after the flush opens a new window instead of joining the flushed one
    touch(issue, end + timedelta(minutes=1), title="second edit")
    cycle(engine, end + timedelta(minutes=1, seconds=5))
    assert AggregateBucket.select().count() == 2
    newest = AggregateBucket.select().order_by(AggregateBucket.id.desc()).get()
    assert newest.flushed_at is None
    assert noise.bucket_of(Event.select().order_by(Event.id.desc()).get().id) == newest


def test_a_cross_source_group_key_from_tags_folds_three_sources_into_one_alert(
    db: peewee.Database,
) -> None:
    """A tag rule marks one project's items on different sources; the group key is the tag."""
    from mrt.events import TrackerEvent
    from mrt.noise.collect import collect_cycle
    from mrt.pipeline import plan_event
    from mrt.store.cycle import CycleSuccess, commit_cycle

    cfg = Config(
        channels={"team": ChannelConfig(urls=["json://127.0.0.1:9/team"])},
        aggregation=AggregationConfig(window_minutes=30),
        rules=[
            RuleConfig.model_validate(r)
            for r in [
                {"name": "project", "when": {"keywords": ["deepseek-v3"]}, "tag": ["project:dsv3"]},
                {"name": "fold", "when": {"tags": ["project:dsv3"]}, "aggregate": {"group_by": ["tags"]}},
            ]
        ],
    )
    engine = Engine(
        config=cfg, db=db, pool=make_pool(FakeClock()), targets=channels.resolve_targets(cfg, {}),
        ruleset=compile_rules(cfg),
        env={}, plugins={},
    )

    def event(source: str, key: str, rid: str, kind: str, title: str) -> TrackerEvent:
        return TrackerEvent(
            source=source, source_key=key, resource_type="x", resource_id=rid, event_type=kind,
            event_id=rid, title=title, summary="", url=f"https://example.org/{rid}", author="",
            labels=(), occurred_at=T0, observed_at=T0, details={}, raw={},
        )

    items = [
        ("github", "github:deepseek-ai/DeepSeek-V3", "deepseek-ai/DeepSeek-V3/releases/v1.0", "release_published", "DeepSeek-V3 v1.0"),
        ("pypi", "pypi:deepseek", "deepseek==1.0", "version_published", "deepseek-v3 1.0 on PyPI"),
        ("huggingface", "huggingface:deepseek-ai", "deepseek-ai/DeepSeek-V3", "model_updated", "DeepSeek-V3 weights"),
    ]
    success = CycleSuccess({}, {}, {}, None, None, None, None, T0)
    for n, (source, key, rid, kind, title) in enumerate(items):
        at = T0 + timedelta(minutes=n)
        planned = [plan_event(engine, event(source, key, rid, kind, title), at)]
        with db.atomic():
            commit_cycle(db, key, planned, success, rule_digest="d", rule_canonical={}, metric={}, now=at)
            collect_cycle(planned, at)
    assert AggregateBucket.select().count() == 1
    assert AggregateBucket.get().group_key == "tags=project:dsv3"
    end = AggregateBucket.get().window_end
    assert flush_due_aggregates(db, engine.targets, engine.renderer, end) == 1
    alert = Alert.get()
    assert alert.source_key is None and alert.payload["members"] == 3
    body = Outbox.get().body
    assert "3 updates" in body and "3 places" in body
    for _, _, rid, _, _ in items:
        assert f"https://example.org/{rid}" in body


def test_a_flush_that_fails_half_way_leaves_nothing_and_the_next_tick_sends_it(
    db: peewee.Database, httpserver: HTTPServer
) -> None:
    engine = make_engine(db, httpserver, AGGREGATE_EDITS)
    issues = recorded_issues()
    FakeGitHub(httpserver, REPO, issues)
    cycle(engine, T0)
    issue = first_issue(issues)
    for n in range(2):
        touch(issue, T0 + timedelta(minutes=1 + n), title=f"edit {n}")
        cycle(engine, T0 + timedelta(minutes=1 + n, seconds=10))
    end = AggregateBucket.get().window_end

    class Broken(Renderer):
        def message(self, channel: str, events: Any, decision: Any) -> Any:
            raise RuntimeError("renderer crashed")

    assert flush_due_aggregates(db, engine.targets, Broken(engine.config), end) == 0
    assert Alert.select().count() == 0 and Outbox.select().count() == 0
    assert AlertEvent.select().count() == 0 and AggregateBucket.get().flushed_at is None

    # a channel that is gone is recorded on the alert; the members are kept all the same
    assert flush_due_aggregates(db, {}, engine.renderer, end + timedelta(seconds=1)) == 1
    alert = Alert.get()
    assert alert.payload["channel_problems"] == {"hook": "channel not configured"}
    assert Outbox.select().count() == 0 and AlertEvent.select().count() == 2

"""Time-window dedupe through the pipeline: loopback GitHub, real rules, real SQLite."""

from __future__ import annotations

from datetime import timedelta

import peewee
import pytest
from pytest_httpserver import HTTPServer
from test_noise_support import REPO, cycle, make_engine
from test_source_support import T0, FakeGitHub, close, recorded_issues, touch

from mrt.config import AggregationConfig
from mrt.ops.explain import trace
from mrt.store.models import Alert, AlertEvent, Event, Outbox

NOTIFY = [{"name": "changes", "when": {"event_type": ["issue_edited", "issue_closed"]}, "notify": {}}]


def plain_issues(issues: list[dict[str, object]]) -> list[dict[str, object]]:
    return [i for i in issues if "pull_request" not in i]


def test_a_resource_updated_again_inside_the_window_alerts_once(
    db: peewee.Database, httpserver: HTTPServer
) -> None:
    engine = make_engine(
        db, httpserver, NOTIFY, aggregation=AggregationConfig(dedupe_window_minutes=30)
    )
    issues = recorded_issues()
    FakeGitHub(httpserver, REPO, issues)
    cycle(engine, T0)
    issue, other = plain_issues(issues)[:2]

    touch(issue, T0 + timedelta(minutes=1), title="edit 1")
    first = cycle(engine, T0 + timedelta(minutes=1, seconds=10))
    assert first.alerts == 1
    alert = Alert.get()

    for minute in (5, 10):  # updated again inside the window: recorded, folded, no alert
        touch(issue, T0 + timedelta(minutes=minute), title=f"edit at {minute}")
        report = cycle(engine, T0 + timedelta(minutes=minute, seconds=10))
        assert report.new_events == 1 and report.alerts == 0

    # an edit and a close seen by one cycle: both inside the window, both folded
    touch(issue, T0 + timedelta(minutes=20), title="edit and close")
    close(issue, T0 + timedelta(minutes=20))
    assert cycle(engine, T0 + timedelta(minutes=20, seconds=10)).alerts == 0

    # another resource is not affected
    touch(other, T0 + timedelta(minutes=21), title="another issue")
    assert cycle(engine, T0 + timedelta(minutes=21, seconds=10)).alerts == 1

    deduped = list(Event.select().where(Event.decision == "deduped").order_by(Event.id))
    assert len(deduped) == 4
    for event in deduped:
        assert event.decision_detail["deduped_into_alert"] == alert.id
        assert event.decision_detail["deduped_into"] == alert.fingerprint
        assert event.decision_detail["matched"][0]["rule"] == "changes"  # why it would have
    links = {link.event_id for link in AlertEvent.select().where(AlertEvent.alert == alert)}
    assert links == {e.id for e in deduped}
    assert Alert.select().count() == 2 and Outbox.select().count() == 2

    # the trace of a deduped event says where it went
    traced = trace(deduped[0].fingerprint)
    assert traced.event.decision == "deduped" and [a.id for a in traced.alerts] == [alert.id]


def test_inside_one_cycle_the_first_change_alerts_and_the_rest_fold_into_it(
    db: peewee.Database, httpserver: HTTPServer
) -> None:
    engine = make_engine(
        db, httpserver, NOTIFY, aggregation=AggregationConfig(dedupe_window_minutes=30)
    )
    issues = recorded_issues()
    FakeGitHub(httpserver, REPO, issues)
    cycle(engine, T0)
    issue = plain_issues(issues)[0]
    touch(issue, T0 + timedelta(minutes=1), title="edit and close")
    close(issue, T0 + timedelta(minutes=1))
    report = cycle(engine, T0 + timedelta(minutes=1, seconds=10))
    assert report.new_events == 2 and report.alerts == 1
    alert = Alert.get()
    folded = Event.get(Event.decision == "deduped")
    assert folded.decision_detail["deduped_into"] == alert.fingerprint
    assert folded.decision_detail["deduped_into_alert"] == alert.id
    assert AlertEvent.get().event_id == folded.id


@pytest.mark.parametrize("window", [0, 30])
def test_after_the_window_the_next_update_alerts_again(
    db: peewee.Database, httpserver: HTTPServer, window: int
) -> None:
    engine = make_engine(
        db, httpserver, NOTIFY, aggregation=AggregationConfig(dedupe_window_minutes=window)
    )
    issues = recorded_issues()
    FakeGitHub(httpserver, REPO, issues)
    cycle(engine, T0)
    issue = plain_issues(issues)[0]
    alerts = []
    for minute in (1, 20, 32, 50):
        touch(issue, T0 + timedelta(minutes=minute), title=f"edit at {minute}")
        alerts.append(cycle(engine, T0 + timedelta(minutes=minute, seconds=10)).alerts)
    # window 30 from the alert at 1:10: 20 folds, 32 alerts (a new window to 62:10), 50 folds
    assert alerts == ([1, 1, 1, 1] if window == 0 else [1, 0, 1, 0])
    assert Event.select().where(Event.decision == "deduped").count() == (0 if window == 0 else 2)

"""commit_cycle stores a cycle's events in upstream order, whether or not they alert."""

from __future__ import annotations

from datetime import UTC, datetime

import peewee

from mrt.delivery.base import Message
from mrt.events import TrackerEvent
from mrt.store import sources
from mrt.store.cycle import CycleSuccess, PlannedAlert, PlannedDelivery, PlannedEvent, commit_cycle
from mrt.store.db import write_transaction
from mrt.store.models import Alert, Event, Outbox

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def event(n: int) -> TrackerEvent:
    return TrackerEvent(
        source="github",
        source_key="github:a/b",
        resource_type="issue",
        resource_id=f"a/b#{n}",
        event_type="issue_opened",
        event_id=f"{n}:opened",
        title=f"issue {n}",
        labels=("bug",) if n % 2 else (),
        details={"number": n, "nested": {"x": [n]}},
        occurred_at=NOW,
        observed_at=NOW,
    )


def test_quiet_and_alerted_events_keep_upstream_order_and_every_field(db: peewee.Database) -> None:
    sources.ensure_states([("github:a/b", "github")], NOW)
    planned = []
    for n in range(1, 101):
        if n % 25 == 0:
            alert = PlannedAlert(
                title=f"issue {n}",
                priority="high",
                tags=("t",),
                matched=[{"rule": "r", "reasons": ["why"]}],
                deliveries=(PlannedDelivery("hook", "json://h/x", Message("s", f"body {n}")),),
            )
            planned.append(PlannedEvent(event(n), "notify", {"matched": ["r"]}, alert))
        else:
            planned.append(PlannedEvent(event(n), "none"))
    success = CycleSuccess(
        cursor={"since": "x"},
        validators={},
        snapshots={},
        degraded=None,
        http_status=200,
        ratelimit_remaining=None,
        ratelimit_reset_at=None,
        next_poll_at=NOW,
    )
    with write_transaction(db):  # the caller owns the transaction (the pipeline does)
        counts = commit_cycle(
            db, "github:a/b", planned, success, rule_digest="d", rule_canonical={}, metric={},
            now=NOW,
        )
    assert (counts.new_events, counts.alerts, counts.deliveries) == (100, 4, 4)
    stored = list(Event.select().order_by(Event.id))
    assert [e.resource_id for e in stored] == [f"a/b#{n}" for n in range(1, 101)]
    third = stored[2]
    assert third.labels == ["bug"] and third.details == {"number": 3, "nested": {"x": [3]}}
    assert third.observed_at == NOW and third.decision == "none" and third.rule_version_id
    alerted = [a.event.resource_id for a in Alert.select().order_by(Alert.id)]
    assert alerted == ["a/b#25", "a/b#50", "a/b#75", "a/b#100"]
    assert [o.body for o in Outbox.select().order_by(Outbox.id)] == [
        "body 25",
        "body 50",
        "body 75",
        "body 100",
    ]
    # the same cycle again: every event is a repeat
    with write_transaction(db):
        again = commit_cycle(
            db, "github:a/b", planned, success, rule_digest="d", rule_canonical={}, metric={},
            now=NOW,
        )
    assert again.new_events == 0 and again.repeats == 100 and Event.select().count() == 100

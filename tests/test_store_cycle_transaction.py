"""commit_cycle is one part of its caller's transaction: it refuses to run outside one, and
inside one it opens none of its own (no SAVEPOINT), so what commits together is decided by the
caller alone (the pipeline: events, alerts, outbox rows, aggregate members, cursor)."""

from __future__ import annotations

from datetime import UTC, datetime

import peewee
import pytest

from mrt.events import TrackerEvent
from mrt.store import sources
from mrt.store.cycle import CycleSuccess, PlannedEvent, commit_cycle
from mrt.store.db import write_transaction
from mrt.store.models import CycleMetric, Event, SourceState

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
KEY = "github:a/b"


def planned(n: int) -> list[PlannedEvent]:
    return [
        PlannedEvent(
            TrackerEvent(
                source="github", source_key=KEY, resource_type="issue", resource_id=f"a/b#{i}",
                event_type="issue_opened", event_id=f"{i}:opened", title=f"issue {i}",
                occurred_at=NOW, observed_at=NOW,
            ),
            "none",
        )
        for i in range(n)
    ]


SUCCESS = CycleSuccess(
    cursor={"since": "moved"}, validators={}, snapshots={}, degraded=None, http_status=200,
    ratelimit_remaining=None, ratelimit_reset_at=None, next_poll_at=NOW,
)


def commit(db: peewee.Database, n: int = 3) -> None:
    commit_cycle(db, KEY, planned(n), SUCCESS, rule_digest="d", rule_canonical={}, metric={}, now=NOW)


def test_outside_a_transaction_it_refuses_and_stores_nothing(db: peewee.Database) -> None:
    sources.ensure_states([(KEY, "github")], NOW)
    with pytest.raises(RuntimeError, match="commit_cycle must run inside the caller's write_transaction"):
        commit(db)
    assert Event.select().count() == 0 and CycleMetric.select().count() == 0
    assert SourceState.get(SourceState.source_key == KEY).cursor is None


def test_inside_the_callers_transaction_it_nests_none_of_its_own(db: peewee.Database) -> None:
    sources.ensure_states([(KEY, "github")], NOW)
    statements: list[str] = []
    db.connection().set_trace_callback(statements.append)
    try:
        with write_transaction(db):
            commit(db)
    finally:
        db.connection().set_trace_callback(None)
    assert not [s for s in statements if "SAVEPOINT" in s.upper()]
    assert Event.select().count() == 3
    assert SourceState.get(SourceState.source_key == KEY).cursor == {"since": "moved"}


def test_the_callers_rollback_takes_the_whole_cycle_back(db: peewee.Database) -> None:
    sources.ensure_states([(KEY, "github")], NOW)
    with pytest.raises(LookupError), write_transaction(db):
        commit(db)
        raise LookupError("the caller's next step failed")  # e.g. recording quarantined items
    assert Event.select().count() == 0 and CycleMetric.select().count() == 0
    assert SourceState.get(SourceState.source_key == KEY).cursor is None

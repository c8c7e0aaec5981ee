"""The claim semantics on PostgreSQL (FOR UPDATE SKIP LOCKED), when MRT_TEST_PG_URL names a server.

The URL's database is emptied and migrated: point it at a throwaway database.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

import peewee
import pytest
from test_outbox_support import T0, claim_in_threads, enqueue_alerts

from mrt.delivery.base import Target
from mrt.store import outbox
from mrt.store.db import open_database
from mrt.store.migrations import migrate
from mrt.store.models import ALL_MODELS, Outbox
from mrt.store.outbox import LEASE_LOST, AttemptRecord
from mrt.store.views import outbox as outbox_views

pytestmark = pytest.mark.postgres
PG_URL = os.environ.get("MRT_TEST_PG_URL")
TARGETS = [
    Target(channel="welink", key="welink://robot/***", url="welink://robot/secret"),
    Target(channel="email", key="mailtos://ops@example.com", url="mailtos://u:p@example.com"),
]


@pytest.fixture
def pg() -> Iterator[peewee.Database]:
    if not PG_URL:
        pytest.skip("MRT_TEST_PG_URL is not set")
    db = open_database(PG_URL)
    db.drop_tables(ALL_MODELS, cascade=True)
    migrate(db)
    yield db
    db.close()


def test_two_threads_never_share_a_row_on_postgresql(pg: peewee.Database) -> None:
    ids = enqueue_alerts(T0, TARGETS, count=40)
    got = claim_in_threads(
        ["a", "b", "c"],
        lambda name: outbox.claim_due(name, T0, limit=2, lease_seconds=60),
        pg.close,
    )
    claimed = [i for name in got for i in got[name]]
    assert sorted(claimed) == sorted(ids) and len(set(claimed)) == len(claimed)


def test_leases_and_owner_checks_on_postgresql(pg: peewee.Database) -> None:
    [row_id] = enqueue_alerts(T0, TARGETS[:1])
    outbox.claim_due("slow", T0, limit=1, lease_seconds=60, one_per_target=True)
    later = T0 + timedelta(seconds=61)
    [again] = outbox.claim_due("fast", later, limit=1, lease_seconds=60, one_per_target=True)
    assert again.id == row_id and again.attempts == 1
    assert outbox.mark_sent(row_id, "slow", later, AttemptRecord(started_at=T0)) == LEASE_LOST
    assert outbox.mark_sent(row_id, "fast", later, AttemptRecord(started_at=later)) == "sent"
    assert Outbox.get_by_id(row_id).status == "sent"
    assert outbox_views.oldest_pending_age_seconds(later) is None
    assert outbox_views.counts_by_status()["sent"] == 1
    assert outbox.last_attempt_by_target() == {TARGETS[0].key: later}

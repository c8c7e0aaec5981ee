"""Rate budgets are shared by every claimer: threads with their own connections (workers) never
take more tokens than the bucket holds, on SQLite and, with MRT_TEST_PG_URL, on PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import peewee
import pytest
from test_outbox_support import T0, claim_in_threads, enqueue_alerts

from mrt.delivery.base import Target
from mrt.message import Rate
from mrt.store.db import open_database
from mrt.store.migrations import migrate
from mrt.store.models import ALL_MODELS, TargetBudget
from mrt.store.outbox_claim import Budget, claim_within_budgets
from mrt.store.outbox_records import ClaimedDelivery

TARGETS = [
    Target(channel="robot", key=f"welink://robot-{n}/***", url=f"welink://robot-{n}/secret")
    for n in range(2)
]
BUDGETS = {t.key: Budget(t.key, Rate(burst=5, per_minute=1)) for t in TARGETS}


def claim(name: str) -> list[ClaimedDelivery]:
    return claim_within_budgets(
        name, T0, limit=4, lease_seconds=60, budgets_by_target=BUDGETS
    ).rows


def assert_budget_held(close: Callable[[], None]) -> None:
    enqueue_alerts(T0, TARGETS, count=20)
    got = claim_in_threads(["a", "b", "c", "d"], claim, close)
    claimed = [i for ids in got.values() for i in ids]
    assert len(claimed) == len(set(claimed)) == 10  # 5 tokens per robot, whoever claims
    assert {round(b.tokens, 6) for b in TargetBudget.select()} == {0.0}


def test_threads_share_each_targets_budget_on_sqlite(db: peewee.Database) -> None:
    assert_budget_held(db.close)


@pytest.fixture
def pg() -> Iterator[peewee.Database]:
    url = os.environ.get("MRT_TEST_PG_URL")
    if not url:
        pytest.skip("MRT_TEST_PG_URL is not set")
    db = open_database(url)
    db.drop_tables(ALL_MODELS, cascade=True)
    migrate(db)
    yield db
    db.close()


@pytest.mark.postgres
def test_threads_share_each_targets_budget_on_postgresql(pg: peewee.Database) -> None:
    assert_budget_held(pg.close)

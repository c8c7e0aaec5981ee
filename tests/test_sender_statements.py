"""What the sender's drain costs the store, counted: statements and write transactions per
message, on a real SQLite file, through the real dispatcher to JSON webhooks on loopback.

The drain's rate is bound by the store's work per message (docs/PERFORMANCE.md, "Delivery at
the limit"), so these are stated as bounds: a change that makes each message cost more
statements again fails here, not only in a benchmark.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import peewee
from pytest_httpserver import HTTPServer
from test_outbox_support import T0, enqueue_alerts

from mrt.config import config_from_dict
from mrt.delivery import channels
from mrt.delivery.base import Message, SendOutcome, Target
from mrt.delivery.sender import Sender
from mrt.store.models import DeliveryAttempt, Outbox

TARGETS = 4
PER_TARGET = 30


class _Counting(sqlite3.Cursor):
    statements: list[str] = []

    def execute(self, sql: str, *args: Any) -> Any:  # type: ignore[override]
        _Counting.statements.append(sql)
        return super().execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> Any:  # type: ignore[override]
        _Counting.statements.append(sql)
        return super().executemany(sql, *args)


@contextmanager
def counting(db: peewee.Database) -> Iterator[list[str]]:
    """The statements handed to the driver (execute and executemany each count one)."""
    real = db.cursor
    db.cursor = lambda *a, **k: db.connection().cursor(_Counting)  # type: ignore[method-assign]
    _Counting.statements = []
    try:
        yield _Counting.statements
    finally:
        db.cursor = real  # type: ignore[method-assign]


def _drain(db: peewee.Database, httpserver: HTTPServer) -> list[str]:
    httpserver.expect_request("/hook", method="POST").respond_with_json({})
    base = httpserver.url_for("/hook").split("://", 1)[1]
    urls = [f"json://{base}?n={n}" for n in range(TARGETS)]
    config = config_from_dict({
        "channels": {"hook": {"urls": urls, "rate": {"burst": 1000, "per_minute": 100_000}}},
        "delivery": {"senders": TARGETS, "fold_after_seconds": 0},
    })
    targets = channels.resolve_targets(config, {})
    enqueue_alerts(T0, targets["hook"], count=PER_TARGET)

    async def send(target: Target, message: Message, timeout: float) -> SendOutcome:
        return await channels.send(target, message, timeout=timeout)

    sender = Sender(config, targets, send, "test-sender", random.Random(1))
    with counting(db) as statements:
        report = asyncio.run(sender.run_until_idle(lambda: T0 + timedelta(seconds=1)))
    total = TARGETS * PER_TARGET
    assert report.sent == total
    assert Outbox.select().where(Outbox.status == "sent").count() == total
    assert DeliveryAttempt.select().where(DeliveryAttempt.outcome == "sent").count() == total
    return statements


def test_the_drain_runs_few_statements_per_message(
    db: peewee.Database, httpserver: HTTPServer
) -> None:
    statements = _drain(db, httpserver)
    per_message = len(statements) / (TARGETS * PER_TARGET)
    # 9.7 before plain SQL for the marks (each its own UPDATE and INSERT, in two savepoints)
    # and the claims (peewee's statements, one more read per leased row); 4.7 after.
    assert per_message <= 5.0, per_message


def test_a_target_is_claimed_once_per_run_of_its_rows_not_once_per_message(
    db: peewee.Database, httpserver: HTTPServer
) -> None:
    statements = _drain(db, httpserver)
    claims = sum(1 for s in statements if s.startswith("WITH RECURSIVE"))  # outbox_due's search
    # Runs of up to RUN_MAX (16) rows, so 30 rows a target are two runs: the first claim, then
    # one each time a target's run ends (targets ending together share one). Without runs:
    # 32 claims, one per transaction.
    assert claims <= 1 + TARGETS * 2, claims

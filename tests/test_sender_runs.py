"""Runs: a target's next due rows leased in one claim and sent one after another, in order.

A WeLink robot on loopback (our plugin, the real `channels.send`), a real SQLite file (and the
PostgreSQL server of MRT_TEST_PG_URL when there is one), the clock driven through `now`. A
crashed sender's run is taken over once its lease expires: the row it may have had in flight is
sent again (as any abandoned send is), the others once, in order, and only the first counts a
try. A throttle answer mid-run stops the run: the rest waits for the budget, untried.
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import peewee
from pytest_httpserver import HTTPServer
from test_outbox_support import T0, enqueue_alerts
from test_sender_budgets import Robot, load, only_target, outcomes, run, sender, throttled

from mrt.delivery import channels
from mrt.delivery.budget import budgets_for
from mrt.retry import RetryPolicy
from mrt.store.models import DeliveryAttempt, Outbox
from mrt.store.outbox_claim import claim_within_budgets
from mrt.store.outbox_marks import Mark, record_marks
from mrt.store.outbox_records import AttemptRecord


def sent_releases(robot: Robot) -> list[int]:
    """The release numbers of the messages the robot accepted, in the order it accepted them."""
    return [int(m.group(1)) for text in robot.accepted for m in [re.search(r"release (\d+)", text)]
            if m is not None]


def test_a_run_taken_over_after_its_lease_expired_is_sent_once_and_in_order(
    store_db: peewee.Database, httpserver: HTTPServer
) -> None:
    robot = Robot(httpserver)
    config = load(robot, {"rate": {"burst": 20, "per_minute": 60}}, fold_after_seconds=0,
                  lease_seconds=60)
    target = only_target(config)
    ids = enqueue_alerts(T0, [target], count=6)
    policy = RetryPolicy.from_config(config.delivery)

    # Sender "dead" leases all six as one run, sends the first and records it, sends the second
    # and is killed before recording it.
    claim = claim_within_budgets(
        "dead", T0, limit=1, lease_seconds=60,
        budgets_by_target=budgets_for(config, channels.resolve_targets(config, {})), run=16,
    )
    assert sorted(c.id for c in claim.rows) == ids
    first, second = sorted(claim.rows, key=lambda c: c.id)[:2]
    assert asyncio.run(channels.send(target, first.message, timeout=5)).ok
    record_marks([Mark(first.id, AttemptRecord(T0), ok=True, carried=False)], "dead", T0, policy)
    assert asyncio.run(channels.send(target, second.message, timeout=5)).ok

    s = sender(config, "next")
    assert run(s, T0 + timedelta(seconds=59)).claimed == 0  # the dead sender's lease holds
    report = run(s, T0 + timedelta(seconds=61))

    assert report.sent == 5
    assert sent_releases(robot) == [0, 1, 1, 2, 3, 4, 5]  # only the one in flight twice
    rows = {r.id: r for r in Outbox.select()}
    assert {r.status for r in rows.values()} == {"sent"}
    assert rows[ids[1]].attempts == 2  # its abandoned try counted, then sent
    assert [rows[i].attempts for i in ids[2:]] == [1, 1, 1, 1]  # never tried before: not counted
    taken_back = DeliveryAttempt.select().where(DeliveryAttempt.outcome == "lease_expired")
    assert [a.outbox_id for a in taken_back] == [ids[1]]


def test_a_throttle_answer_mid_run_stops_the_run_until_the_budget_refills(
    store_db: peewee.Database, httpserver: HTTPServer
) -> None:
    robot = Robot(httpserver)
    config = load(robot, {"rate": {"burst": 10, "per_minute": 6}}, fold_after_seconds=0)
    s = sender(config)
    target = only_target(config)
    ids = enqueue_alerts(T0, [target], count=4)
    robot.script = [throttled()]  # the first send of the run is answered "slow down"

    report = run(s, T0)

    assert report.retrying == 1 and report.sent == 0
    assert {r.status for r in Outbox.select().where(Outbox.id != ids[0])} == {"pending"}
    assert outcomes() == ["throttled"]  # the rest of the run went back untried
    assert run(s, T0 + timedelta(seconds=9)).claimed == 0  # the bucket is empty for 10 s
    report = run(s, T0 + timedelta(seconds=10))
    assert report.sent == 1  # one token refilled: one message
    assert sent_releases(robot) == [0]


def test_a_run_row_whose_lease_could_run_out_during_its_send_is_leased_again_first(
    db: peewee.Database, httpserver: HTTPServer
) -> None:
    robot = Robot(httpserver)
    # lease 30 s, sends may take up to 20 s
    config = load(robot, {"rate": {"burst": 20, "per_minute": 60}}, fold_after_seconds=0,
                  lease_seconds=30, send_timeout_seconds=20)
    s = sender(config)
    enqueue_alerts(T0, [only_target(config)], count=4)
    clock = [T0]

    def slow_first(request):  # type: ignore[no-untyped-def]
        answer = robot.handle(request)
        clock[0] = T0 + timedelta(seconds=15)  # the first send took 15 s
        return answer

    httpserver.clear_all_handlers()
    httpserver.expect_request("/api/werobot/v1/webhook/send").respond_with_handler(slow_first)

    report = asyncio.run(s.run_until_idle(lambda: clock[0]))

    # At 15 s the run's next row had 15 s of lease left, less than a send may take: the run
    # went back, and was leased again (a fresh 30 s) before its rows were sent.
    assert report.sent == 4 and report.claimed == 4 + 3
    assert sent_releases(robot) == [0, 1, 2, 3]
    assert outcomes() == ["sent"] * 4

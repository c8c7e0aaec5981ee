"""The sender over real HTTP on loopback: retries, isolation, spacing, throttling, scrubbing."""

from __future__ import annotations

import asyncio
import itertools
import random
from datetime import datetime, timedelta

import peewee
import pytest
from pytest_httpserver import HTTPServer
from test_outbox_support import T0, add_sink, config, enqueue_alerts, http_send

from mrt.delivery.base import Message, SendOutcome, Target
from mrt.delivery.sender import Sender
from mrt.store.models import DeliveryAttempt, Outbox


def sender_for(targets: list[Target], send=http_send, **delivery: object) -> Sender:  # type: ignore[no-untyped-def]
    by_channel: dict[str, list[Target]] = {}
    for t in targets:
        by_channel.setdefault(t.channel, []).append(t)
    settings = {"min_interval_seconds": 0, **delivery}
    return Sender(config(**settings), by_channel, send, owner="test-sender", rng=random.Random(1))


def run_at(sender: Sender, now: datetime):  # type: ignore[no-untyped-def]
    return asyncio.run(sender.run_once(now))


def next_due() -> datetime:
    return min(r.next_attempt_at for r in Outbox.select().where(Outbox.status == "retrying"))


def test_a_target_failing_five_times_then_recovering_gets_the_alert(
    db: peewee.Database, httpserver: HTTPServer
) -> None:
    sink, target = add_sink(httpserver, "welink")
    sink.fail_next(5, 500)
    [row_id] = enqueue_alerts(T0, [target])
    sender = sender_for([target])

    now = T0
    for _ in range(5):
        assert run_at(sender, now).retrying == 1
        now = next_due()
    report = run_at(sender, now)

    assert report.sent == 1 and len(sink.received) == 1
    row = Outbox.get_by_id(row_id)
    assert (row.status, row.attempts) == ("sent", 6)
    attempts = list(DeliveryAttempt.select().order_by(DeliveryAttempt.id))
    assert [a.outcome for a in attempts] == ["retry"] * 5 + ["sent"]
    assert all(a.http_status == 500 and a.vendor_code == "58500" for a in attempts[:5])


def test_one_target_down_does_not_hold_back_another(db: peewee.Database, httpserver: HTTPServer) -> None:
    down, welink = add_sink(httpserver, "welink")
    up, email = add_sink(httpserver, "email")
    down.always(503)
    enqueue_alerts(T0, [welink, email], count=3)
    sender = sender_for([welink, email])

    report = run_at(sender, T0)

    assert len(up.received) == 3 and report.sent == 3
    assert {r.status for r in Outbox.select().where(Outbox.channel == "welink")} == {"retrying"}


def test_a_burst_to_one_target_is_spaced_by_the_clock(db: peewee.Database, httpserver: HTTPServer) -> None:
    sink, target = add_sink(httpserver, "welink")
    enqueue_alerts(T0, [target], count=200)
    sender = sender_for([target], min_interval_seconds=3, senders=8)

    sent_after_tick = []
    for second in range(0, 30):
        run_at(sender, T0 + timedelta(seconds=second))
        sent_after_tick.append(len(sink.received))

    # one at 0 s, 3 s, 6 s, ... and never two within 3 s of clock
    assert sent_after_tick == [second // 3 + 1 for second in range(30)]
    assert [m["subject"] for m in sink.received[:3]] == ["release 0", "release 1", "release 2"]


def test_spacing_comes_from_the_target_when_it_sets_one(db: peewee.Database, httpserver: HTTPServer) -> None:
    slow_sink, slow = add_sink(httpserver, "welink")
    fast_sink, fast = add_sink(httpserver, "slack")
    slow = Target(channel=slow.channel, key=slow.key, url=slow.url, min_interval_seconds=10)
    enqueue_alerts(T0, [slow, fast], count=5)
    sender = sender_for([slow, fast], min_interval_seconds=0)

    for second in range(0, 12):
        run_at(sender, T0 + timedelta(seconds=second))

    assert len(slow_sink.received) == 2 and len(fast_sink.received) == 5


def test_a_throttled_answer_waits_at_least_retry_after(db: peewee.Database, httpserver: HTTPServer) -> None:
    sink, target = add_sink(httpserver, "welink")
    sink.fail_next(1, 429, headers={"Retry-After": "120"})
    [row_id] = enqueue_alerts(T0, [target])
    sender = sender_for([target], backoff_base_seconds=1)

    assert run_at(sender, T0).retrying == 1
    assert Outbox.get_by_id(row_id).next_attempt_at == T0 + timedelta(seconds=120)
    assert run_at(sender, T0 + timedelta(seconds=119)).claimed == 0
    assert run_at(sender, T0 + timedelta(seconds=120)).sent == 1
    assert [a.outcome for a in DeliveryAttempt.select()] == ["throttled", "sent"]


def test_a_permanent_failure_is_dead_at_once(db: peewee.Database, httpserver: HTTPServer) -> None:
    sink, target = add_sink(httpserver, "welink")
    sink.always(400, {"code": "10001", "msg": "bad param"})
    [row_id] = enqueue_alerts(T0, [target])
    report = run_at(sender_for([target]), T0)
    assert report.dead == 1
    assert "permanent failure" in Outbox.get_by_id(row_id).last_error


def test_secrets_in_a_send_outcome_never_reach_the_database(
    db: peewee.Database, httpserver: HTTPServer
) -> None:
    sink, target = add_sink(httpserver, "welink", secret="tok-9f8e7d6c")
    sink.always(500, {"code": "58500", "echo": "tok-9f8e7d6c"})  # a robot echoing our token
    dead_target = Target(channel="email", key="mailtos://ops@127.0.0.1:1", url="http://127.0.0.1:1/x",
                         secrets=("hunter2-pass",))

    async def leaky_send(t: Target, m: Message, timeout: float) -> SendOutcome:
        if t.channel == "email":
            raise RuntimeError(f"login failed for ops:hunter2-pass at {t.url}")
        return await http_send(t, m, timeout)

    enqueue_alerts(T0, [target, dead_target])
    run_at(sender_for([target, dead_target], send=leaky_send), T0)

    stored = " ".join(
        [a.message or "" for a in DeliveryAttempt.select()] + [r.last_error or "" for r in Outbox.select()]
    )
    assert "tok-9f8e7d6c" not in stored and "hunter2-pass" not in stored
    assert "RuntimeError" in stored and "***" in stored


def test_a_raising_send_becomes_a_failed_attempt(db: peewee.Database) -> None:
    target = Target(channel="welink", key="welink://x/***", url="welink://x/secret")

    async def broken(t: Target, m: Message, timeout: float) -> SendOutcome:
        raise KeyError("plugin bug")

    enqueue_alerts(T0, [target])
    report = run_at(sender_for([target], send=broken), T0)
    assert report.retrying == 1
    attempt = DeliveryAttempt.get()
    assert (attempt.outcome, attempt.error_class) == ("retry", "KeyError")


def test_a_target_no_longer_configured_retries_then_dies_of_age(
    db: peewee.Database, httpserver: HTTPServer
) -> None:
    _, target = add_sink(httpserver, "welink")
    [row_id] = enqueue_alerts(T0, [target])
    sender = sender_for([], max_age_seconds=600, max_attempts=100)

    now = T0
    statuses = [run_at(sender, now).results[0].status]
    while statuses[-1] == "retrying":
        now = next_due()
        statuses.append(run_at(sender, now).results[0].status)
    assert now >= T0 + timedelta(seconds=600)
    assert statuses[0] == "retrying" and statuses[-1] == "dead"
    row = Outbox.get_by_id(row_id)
    assert "channel welink is not configured any more" in row.last_error
    assert "max_age_seconds 600" in row.last_error

    renamed = sender_for([Target(channel="welink", key="welink://other/***", url="welink://other/s")])
    [other] = enqueue_alerts(T0 + timedelta(days=1), [target])
    run_at(renamed, T0 + timedelta(days=1))
    assert f"channel welink has no target {target.key} any more" in Outbox.get_by_id(other).last_error


def test_run_until_idle_drains_what_is_due_waiting_out_spacing(
    db: peewee.Database, httpserver: HTTPServer
) -> None:
    sink, target = add_sink(httpserver, "welink")
    enqueue_alerts(T0, [target], count=4)
    sender = sender_for([target], min_interval_seconds=3)
    clock = [T0]
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += timedelta(seconds=seconds)

    report = asyncio.run(sender.run_until_idle(lambda: clock[0], sleep=fake_sleep))

    assert report.sent == 4 and len(sink.received) == 4
    assert slept == [3.0, 3.0, 3.0]


@pytest.mark.slow  # 200 real HTTP sends: ~20 s; the 30-tick variant above runs by default
def test_a_burst_of_200_drains_as_fast_as_spacing_allows_and_no_faster(
    db: peewee.Database, httpserver: HTTPServer
) -> None:
    sink, target = add_sink(httpserver, "welink")
    enqueue_alerts(T0, [target], count=200)
    sender = sender_for([target], min_interval_seconds=3, senders=8)
    clock = [T0]
    sent_at: list[datetime] = []

    async def fake_sleep(seconds: float) -> None:
        clock[0] += timedelta(seconds=seconds)

    original = sink.handle

    def stamped(request):  # type: ignore[no-untyped-def]
        sent_at.append(clock[0])
        return original(request)

    sink.handle = stamped  # type: ignore[method-assign]
    httpserver.clear()
    httpserver.expect_request("/hook/welink", method="POST").respond_with_handler(stamped)

    report = asyncio.run(sender.run_until_idle(lambda: clock[0], sleep=fake_sleep))

    assert report.sent == 200 and len(sink.received) == 200
    assert clock[0] - T0 == timedelta(seconds=3 * 199)
    assert all(b - a == timedelta(seconds=3) for a, b in itertools.pairwise(sent_at))
    assert [m["subject"] for m in sink.received] == [f"release {i}" for i in range(200)]

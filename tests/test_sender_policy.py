"""Backoff policy, the senders limit, spacing across a restart, and a store that refuses claims."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from pathlib import Path

import peewee
import pytest
from pytest_httpserver import HTTPServer
from test_outbox_support import T0, add_sink, config, enqueue_alerts, http_send

from mrt.config import DeliveryConfig
from mrt.delivery.base import Message, SendOutcome, Target
from mrt.delivery.sender import Sender, scrub
from mrt.retry import RetryPolicy
from mrt.store.db import open_database
from mrt.store.models import Outbox, database_proxy


def test_full_jitter_stays_under_an_exponential_ceiling_with_a_cap() -> None:
    policy = RetryPolicy.from_config(
        DeliveryConfig(backoff_base_seconds=5, backoff_max_seconds=60), random.Random(42)
    )
    assert [policy.backoff_ceiling(n) for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]
    assert policy.backoff_ceiling(10_000) == 60
    draws = [policy.backoff_seconds(4) for _ in range(500)]
    assert all(0 <= d <= 40 for d in draws) and max(draws) > 30 and min(draws) < 10


def test_the_same_seed_gives_the_same_delays_and_retry_after_is_a_floor() -> None:
    def delays(seed: int) -> list[float]:
        policy = RetryPolicy.from_config(DeliveryConfig(), random.Random(seed))
        return [policy.retry_delay_seconds(n) for n in range(1, 6)]

    assert delays(1) == delays(1) != delays(2)
    policy = RetryPolicy.from_config(DeliveryConfig(backoff_base_seconds=1), random.Random(1))
    assert policy.retry_delay_seconds(1, retry_after=300) == 300
    # a retry_after shorter than the backoff leaves the jittered backoff as it was
    settings = DeliveryConfig(backoff_base_seconds=1000, backoff_max_seconds=1000)
    plain = RetryPolicy.from_config(settings, random.Random(9)).backoff_seconds(1)
    assert plain > 1
    assert RetryPolicy.from_config(settings, random.Random(9)).retry_delay_seconds(1, 1) == plain


def test_gives_up_says_why() -> None:
    policy = RetryPolicy.from_config(DeliveryConfig(max_attempts=3, max_age_seconds=600))
    assert policy.gives_up(attempts=2, age_seconds=10, retryable=True) is None
    assert "max_attempts 3" in (policy.gives_up(attempts=3, age_seconds=10, retryable=True) or "")
    assert "max_age_seconds 600" in (policy.gives_up(attempts=1, age_seconds=601, retryable=True) or "")
    assert policy.gives_up(attempts=1, age_seconds=0, retryable=False) == "permanent failure"


def test_no_more_than_senders_sends_run_at_once(db: peewee.Database, httpserver: HTTPServer) -> None:
    pairs = [add_sink(httpserver, f"hook{i}") for i in range(7)]
    targets = [t for _, t in pairs]
    enqueue_alerts(T0, targets, count=2)
    running = 0
    peak = 0

    async def counting_send(target: Target, message: Message, timeout: float) -> SendOutcome:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        try:
            return await http_send(target, message, timeout)
        finally:
            running -= 1

    by_channel = {t.channel: [t] for t in targets}
    sender = Sender(config(senders=3, min_interval_seconds=0), by_channel, counting_send, "w",
                    random.Random(1))
    report = asyncio.run(sender.run_once(T0))

    assert report.sent == 14 and peak == 3
    assert all(len(sink.received) == 2 for sink, _ in pairs)


def test_a_restarted_sender_keeps_the_spacing_its_predecessor_started(
    db: peewee.Database, httpserver: HTTPServer
) -> None:
    sink, target = add_sink(httpserver, "welink")
    enqueue_alerts(T0, [target], count=3)

    def fresh() -> Sender:
        return Sender(config(min_interval_seconds=10), {"welink": [target]}, http_send, "w",
                      random.Random(1))

    assert asyncio.run(fresh().run_once(T0)).sent == 1
    assert asyncio.run(fresh().run_once(T0 + timedelta(seconds=9))).claimed == 0
    assert asyncio.run(fresh().run_once(T0 + timedelta(seconds=10))).sent == 1
    assert len(sink.received) == 2


def test_a_store_that_refuses_claims_is_reported_not_raised(
    db: peewee.Database, db_path: Path, httpserver: HTTPServer
) -> None:
    _, target = add_sink(httpserver, "welink")
    enqueue_alerts(T0, [target])
    read_only = open_database(db_path, read_only=True)
    try:
        sender = Sender(config(), {"welink": [target]}, http_send, "w", random.Random(1))
        report = asyncio.run(sender.run_once(T0))
    finally:
        read_only.close()
        database_proxy.initialize(db)
    assert report.claimed == 0 and report.claim_error is not None
    assert "OperationalError" in report.claim_error
    assert Outbox.get().status == "pending"


@pytest.mark.parametrize("senders", [1, 4])
def test_run_until_idle_stops_when_only_future_retries_remain(
    db: peewee.Database, httpserver: HTTPServer, senders: int
) -> None:
    sink, target = add_sink(httpserver, "welink")
    sink.always(503)
    enqueue_alerts(T0, [target], count=2)
    sender = Sender(config(senders=senders, min_interval_seconds=0, backoff_base_seconds=60),
                    {"welink": [target]}, http_send, "w", random.Random(11))
    slept: list[float] = []

    async def no_sleep(seconds: float) -> None:
        slept.append(seconds)

    report = asyncio.run(sender.run_until_idle(lambda: T0, sleep=no_sleep))
    assert report.retrying == 2 and slept == []
    assert {r.status for r in Outbox.select()} == {"retrying"}


def test_scrub_removes_secrets_in_every_spelling() -> None:
    secret = "p@ss/wörd+1"
    text = f"raw {secret} pct p%40ss%2Fw%C3%B6rd%2B1 form p%40ss%2Fw%C3%B6rd%2B1 https://u:{secret}@h/"
    cleaned = scrub(text, (secret,)) or ""
    assert "ss/w" not in cleaned and "%2Fw" not in cleaned and cleaned.count("***") >= 3


def test_store_calls_can_run_in_threads_off_the_event_loop(
    db: peewee.Database, httpserver: HTTPServer
) -> None:
    down, welink = add_sink(httpserver, "welink")
    up, email = add_sink(httpserver, "email")
    down.fail_next(1, 500)
    enqueue_alerts(T0, [welink, email], count=3)
    sender = Sender(config(min_interval_seconds=0, senders=4),
                    {"welink": [welink], "email": [email]}, http_send, "w", random.Random(1),
                    store_runner=asyncio.to_thread)

    report = asyncio.run(sender.run_once(T0))

    assert (report.sent, report.retrying) == (5, 1)
    assert len(up.received) == 3 and len(down.received) == 2
    assert sorted(r.status for r in Outbox.select()) == ["retrying"] + ["sent"] * 5


def test_graceful_stop_finishes_in_flight_sends_and_claims_nothing_more(
    db: peewee.Database, httpserver: HTTPServer
) -> None:
    sinks = [add_sink(httpserver, name) for name in ("welink", "email")]
    targets = [t for _, t in sinks]
    enqueue_alerts(T0, targets)

    async def scenario() -> Sender:
        started, go_on = asyncio.Event(), asyncio.Event()

        async def held_send(target: Target, message: Message, timeout: float) -> SendOutcome:
            started.set()
            await go_on.wait()
            return await http_send(target, message, timeout)

        sender = Sender(config(senders=1, min_interval_seconds=0),
                        {t.channel: [t] for t in targets}, held_send, "w", random.Random(1))
        run = asyncio.ensure_future(sender.run_once(T0))
        await started.wait()
        sender.stop_claiming()
        go_on.set()
        report = await run
        assert (report.claimed, report.sent) == (1, 1)
        return sender

    sender = asyncio.run(scenario())
    assert sorted(r.status for r in Outbox.select()) == ["pending", "sent"]
    assert sender.release(T0) == 0


def test_cancelling_past_the_grace_period_cancels_sends_and_release_frees_rows(
    db: peewee.Database,
) -> None:
    target = Target(channel="welink", key="welink://x/***", url="welink://x/secret")
    [row_id] = enqueue_alerts(T0, [target])
    cancelled: list[bool] = []

    async def hanging_send(t: Target, m: Message, timeout: float) -> SendOutcome:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        raise AssertionError("unreachable")

    sender = Sender(config(), {"welink": [target]}, hanging_send, "w", random.Random(1))

    async def scenario() -> None:
        run = asyncio.ensure_future(sender.run_once(T0))
        while Outbox.get_by_id(row_id).status != "sending":
            await asyncio.sleep(0)
        sender.stop_claiming()
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run

    asyncio.run(scenario())
    assert cancelled == [True]
    assert sender.release(T0) == 1
    row = Outbox.get_by_id(row_id)
    assert (row.status, row.lease_owner, row.attempts) == ("pending", None, 0)

"""Claims, leases and the state machine of the outbox, on a real SQLite file."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import peewee
from test_outbox_support import T0, claim_in_threads, enqueue_alerts, make_alert

from mrt.delivery.base import Message, Target
from mrt.ops import outbox as outbox_ops
from mrt.ops.outbox import OutboxFilter
from mrt.retry import RetryPolicy
from mrt.store import outbox
from mrt.store.models import AuditLog, DeliveryAttempt, Outbox
from mrt.store.outbox import LEASE_LOST, AttemptRecord
from mrt.store.views import outbox as outbox_views

TARGET = Target(channel="welink", key="welink://robot/***", url="welink://robot/secret")
MAIL = Target(channel="email", key="mailtos://ops@example.com", url="mailtos://u:p@example.com")


def policy(**kw: float) -> RetryPolicy:
    args = {"max_attempts": 3, "max_age_seconds": 3600.0, "backoff_base_seconds": 5.0,
            "backoff_max_seconds": 60.0, **kw}
    return RetryPolicy(rng=random.Random(7), **args)  # type: ignore[arg-type]


def test_claim_marks_sending_with_a_lease_and_skips_rows_not_due(db: peewee.Database) -> None:
    [due] = enqueue_alerts(T0, [TARGET])
    later = make_alert(T0, title="later", fingerprint="b" * 64)
    outbox.enqueue(later, "welink", TARGET.key, Message("later", ""), T0 + timedelta(minutes=5))

    claimed = outbox.claim_due("w1", T0, limit=10, lease_seconds=60)

    assert [c.id for c in claimed] == [due]
    assert claimed[0].message.url.startswith("https://github.com/")
    row = Outbox.get_by_id(due)
    assert (row.status, row.lease_owner, row.lease_expires_at) == ("sending", "w1", T0 + timedelta(seconds=60))
    assert outbox.claim_due("w2", T0, limit=10, lease_seconds=60) == []


def test_two_threads_claiming_one_file_never_share_a_row(db: peewee.Database) -> None:
    ids = enqueue_alerts(T0, [TARGET, MAIL], count=60)
    got = claim_in_threads(
        ["a", "b"],
        lambda name: outbox.claim_due(name, T0, limit=3, lease_seconds=60),
        db.close,
    )

    assert not set(got["a"]) & set(got["b"])
    assert sorted(got["a"] + got["b"]) == sorted(ids)
    owners = {r.id: r.lease_owner for r in Outbox.select()}
    assert all(owners[i] == "a" for i in got["a"]) and all(owners[i] == "b" for i in got["b"])


def test_a_crashed_senders_rows_come_back_after_the_lease(db: peewee.Database) -> None:
    [row_id] = enqueue_alerts(T0, [TARGET])
    assert len(outbox.claim_due("crashed", T0, limit=5, lease_seconds=120)) == 1

    assert outbox.claim_due("w2", T0 + timedelta(seconds=119), limit=5, lease_seconds=120) == []
    [back] = outbox.claim_due("w2", T0 + timedelta(seconds=120), limit=5, lease_seconds=120)

    assert back.id == row_id and back.attempts == 1
    [note] = DeliveryAttempt.select().where(DeliveryAttempt.outbox == row_id)
    assert note.outcome == "lease_expired" and "crashed" in note.message
    assert Outbox.get_by_id(row_id).lease_owner == "w2"


def test_a_row_that_keeps_crashing_senders_goes_dead(db: peewee.Database) -> None:
    [row_id] = enqueue_alerts(T0, [TARGET])
    now = T0
    for _ in range(3):
        outbox.claim_due("doomed", now, limit=1, lease_seconds=60, policy=policy())
        now += timedelta(seconds=61)
    assert outbox.claim_due("w", now, limit=1, lease_seconds=60, policy=policy()) == []
    row = Outbox.get_by_id(row_id)
    assert row.status == "dead" and row.attempts == 3 and "max_attempts" in row.last_error


def test_slow_sender_loses_its_lease_and_its_mark_changes_nothing(db: peewee.Database) -> None:
    [row_id] = enqueue_alerts(T0, [TARGET])
    outbox.claim_due("slow", T0, limit=1, lease_seconds=60)
    later = T0 + timedelta(seconds=90)
    outbox.claim_due("fast", later, limit=1, lease_seconds=60)

    attempt = AttemptRecord(started_at=T0, duration_ms=80_000, http_status=500, message="boom")
    assert outbox.mark_failed(row_id, "slow", later, attempt, retryable=True, retry_after=None,
                              policy=policy()) == LEASE_LOST
    assert outbox.mark_sent(row_id, "slow", later, AttemptRecord(started_at=T0)) == LEASE_LOST
    row = Outbox.get_by_id(row_id)
    assert (row.status, row.lease_owner) == ("sending", "fast")

    assert outbox.mark_sent(row_id, "fast", later, AttemptRecord(started_at=later)) == "sent"
    row = Outbox.get_by_id(row_id)
    assert (row.status, row.lease_owner, row.sent_at) == ("sent", None, later)
    outcomes = [a.outcome for a in DeliveryAttempt.select().order_by(DeliveryAttempt.id)]
    assert outcomes == ["lease_expired", LEASE_LOST, LEASE_LOST, "sent"]


def test_failures_back_off_then_die_at_max_attempts(db: peewee.Database) -> None:
    [row_id] = enqueue_alerts(T0, [TARGET])
    pol = policy(max_attempts=3)
    now = T0
    statuses = []
    for _ in range(3):
        [c] = outbox.claim_due("w", now, limit=1, lease_seconds=60)
        status = outbox.mark_failed(c.id, "w", now, AttemptRecord(started_at=now, http_status=502),
                                    retryable=True, retry_after=None, policy=pol)
        statuses.append(status)
        row = Outbox.get_by_id(row_id)
        if status == "retrying":
            assert now <= row.next_attempt_at <= now + timedelta(seconds=pol.backoff_ceiling(row.attempts))
            assert outbox.claim_due("w", now, limit=1, lease_seconds=60) == [] or row.next_attempt_at == now
            now = row.next_attempt_at
    assert statuses == ["retrying", "retrying", "dead"]
    row = Outbox.get_by_id(row_id)
    assert row.attempts == 3 and row.last_error.startswith("HTTP 502")
    assert [a.outcome for a in DeliveryAttempt.select()] == ["retry", "retry", "dead"]


def test_max_age_and_permanent_failures_are_dead_at_once(db: peewee.Database) -> None:
    old, permanent = enqueue_alerts(T0, [TARGET, MAIL])
    late = T0 + timedelta(hours=2)
    outbox.claim_due("w", late, limit=5, lease_seconds=60)
    fail = AttemptRecord(started_at=late, http_status=400, message="bad request")
    assert outbox.mark_failed(old, "w", late, fail, retryable=True, retry_after=None,
                              policy=policy(max_age_seconds=3600, max_attempts=99)) == "dead"
    assert outbox.mark_failed(permanent, "w", late, fail, retryable=False, retry_after=None,
                              policy=policy(max_attempts=99, max_age_seconds=10**6)) == "dead"
    assert "max_age_seconds 3600" in Outbox.get_by_id(old).last_error
    assert "permanent failure" in Outbox.get_by_id(permanent).last_error


def test_throttled_retry_after_is_a_floor_on_the_backoff(db: peewee.Database) -> None:
    [row_id] = enqueue_alerts(T0, [TARGET])
    outbox.claim_due("w", T0, limit=1, lease_seconds=60)
    throttled = AttemptRecord(started_at=T0, http_status=429, throttled=True)
    outbox.mark_failed(row_id, "w", T0, throttled, retryable=True, retry_after=600, policy=policy())
    row = Outbox.get_by_id(row_id)
    assert row.next_attempt_at == T0 + timedelta(seconds=600)
    assert row.last_error.startswith("throttled by the target, HTTP 429")
    assert DeliveryAttempt.get().outcome == "throttled"


def test_release_gives_leases_back(db: peewee.Database) -> None:
    ids = enqueue_alerts(T0, [TARGET, MAIL])
    outbox.claim_due("w", T0, limit=5, lease_seconds=60)
    assert outbox.release("w", T0) == 2
    assert {r.status for r in Outbox.select()} == {"pending"}
    assert [c.id for c in outbox.claim_due("w2", T0, limit=5, lease_seconds=60)] == ids


def test_operator_retry_and_discard_are_audited_and_bounded(db: peewee.Database) -> None:
    ids = enqueue_alerts(T0, [TARGET, MAIL], count=2)
    outbox.claim_due("w", T0, limit=10, lease_seconds=60)
    for i in ids:
        outbox.mark_failed(i, "w", T0, AttemptRecord(started_at=T0), retryable=False,
                           retry_after=None, policy=policy())
    dead_email = OutboxFilter(status="dead", channel="email")
    count, ceiling = outbox_ops.preview(dead_email)
    assert (count, ceiling) == (2, ids[3])
    later = T0 + timedelta(hours=1)
    assert outbox_ops.retry(dead_email, now=later, max_id=ids[1], actor="cli") == 1  # the ceiling holds
    row = Outbox.get_by_id(ids[1])
    assert (row.status, row.next_attempt_at, row.attempts) == ("pending", later, 1)

    assert outbox_ops.discard([ids[0], ids[1]], now=later, reason="noise", actor="cli") == 2
    assert outbox_ops.retry([ids[0]], now=later, actor="cli") == 0  # discarded is final
    audit = list(AuditLog.select().order_by(AuditLog.id))
    assert [(a.action, a.actor, a.result["count"]) for a in audit] == [
        ("outbox.retry", "cli", 1), ("outbox.discard", "cli", 2), ("outbox.retry", "cli", 0)]
    assert audit[0].params == {"filter": {"status": "dead", "channel": "email"}, "max_id": ids[1]}
    assert audit[1].reason == "noise"


def test_listing_puts_dead_letters_first_and_pages_by_keyset(db: peewee.Database) -> None:
    ids = enqueue_alerts(T0, [TARGET], count=5)
    outbox.claim_due("w", T0, limit=1, lease_seconds=60)
    outbox.mark_failed(ids[0], "w", T0, AttemptRecord(started_at=T0), retryable=False,
                       retry_after=None, policy=policy())
    first = outbox_views.list_outbox(limit=2)
    assert [r.id for r in first] == [ids[0], ids[4]]
    second = outbox_views.list_outbox(after_id=first[-1].id, limit=2)
    third = outbox_views.list_outbox(after_id=second[-1].id, limit=2)
    assert [r.id for r in second + third] == [ids[3], ids[2], ids[1]]
    assert [r.id for r in outbox_views.list_outbox(status="pending", after_id=ids[3])] == [ids[2], ids[1]]
    assert outbox_views.counts_by_status()["dead"] == 1
    assert outbox_views.oldest_pending_age_seconds(T0 + timedelta(minutes=2)) == 120.0


def test_secret_shapes_are_scrubbed_before_storage(db: peewee.Database, tmp_path: Path) -> None:
    [row_id] = enqueue_alerts(T0, [TARGET])
    outbox.claim_due("w", T0, limit=1, lease_seconds=60)
    leaky = AttemptRecord(started_at=T0, message="POST https://u:hunter2@h/x?token=abc&x=1 failed")
    outbox.mark_failed(row_id, "w", T0, leaky, retryable=True, retry_after=None, policy=policy())
    stored = DeliveryAttempt.get().message + Outbox.get_by_id(row_id).last_error
    assert "hunter2" not in stored and "abc" not in stored and "token=***&x=1" in stored


def test_discarded_rows_are_never_claimed_and_rows_in_flight_cannot_be_discarded(
    db: peewee.Database,
) -> None:
    first, second = enqueue_alerts(T0, [TARGET, MAIL])
    [in_flight] = outbox.claim_due("w", T0, limit=1, lease_seconds=60)
    waiting = second if in_flight.id == first else first
    assert outbox_ops.discard([first, second], now=T0, reason="duplicate", actor="cli") == 1
    assert Outbox.get_by_id(waiting).status == "discarded"
    assert "discarded by cli: duplicate" in Outbox.get_by_id(waiting).last_error
    assert outbox.claim_due("w2", T0 + timedelta(days=2), limit=5, lease_seconds=60)[0].id == in_flight.id
    assert outbox.count_due(T0 + timedelta(days=2)) == 0  # the discarded one never comes back


def test_filters_by_channel_and_source(db: peewee.Database) -> None:
    enqueue_alerts(T0, [TARGET, MAIL], count=2)
    other = make_alert(T0, title="model added", fingerprint="c" * 64, source_key="huggingface:Qwen")
    outbox.enqueue(other, "email", MAIL.key, Message("model added", ""), T0)
    assert len(outbox_views.list_outbox(channel="email")) == 3
    [row] = outbox_views.list_outbox(source_key="huggingface:Qwen")
    assert (row.channel, row.subject, row.fingerprint) == ("email", "model added", "c" * 64)
    assert outbox_ops.preview(OutboxFilter(source="huggingface:Qwen"), action="discard") == (1, row.id)


def test_a_mark_after_an_operator_discard_is_a_no_op_that_says_so(db: peewee.Database) -> None:
    [row_id] = enqueue_alerts(T0, [TARGET])
    outbox.claim_due("slow", T0, limit=1, lease_seconds=60)
    Outbox.update(status="discarded", lease_owner=None).where(Outbox.id == row_id).execute()
    assert outbox.mark_sent(row_id, "slow", T0, AttemptRecord(started_at=T0)) == LEASE_LOST
    assert Outbox.get_by_id(row_id).status == "discarded"
    assert "the row is discarded and was left as it is" in DeliveryAttempt.get().message

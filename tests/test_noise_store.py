"""The noise queries on SQLite and (when $MRT_TEST_PG_URL is set) PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import peewee

from mrt.store import noise
from mrt.store.models import AggregateBucket, Alert, AlertEvent, DigestItem, DigestSchedule, Event

NOW = datetime(2026, 11, 22, 9, 50, 7, 654321, tzinfo=UTC)


def make_event(n: int, resource: str = "vllm-project/vllm#1") -> int:
    return int(
        Event.create(
            fingerprint=f"{n:064x}", source="github", source_key="github:vllm-project/vllm",
            resource_type="issue", resource_id=resource, event_type="issue_edited",
            event_id=str(n), title=f"event {n}", observed_at=NOW, decision="aggregate",
        ).id
    )


def test_buckets_open_join_close_and_reopen(store_db: peewee.Database) -> None:
    with store_db.atomic():
        a, b, c = make_event(1), make_event(2), make_event(3)
        first = noise.add_to_bucket(a, "k", ["team"], 10, NOW)
        assert noise.add_to_bucket(b, "k", ["ops"], 10, NOW + timedelta(minutes=9)) == first
        assert noise.add_to_bucket(a, "k", ["team"], 10, NOW) == first  # idempotent
        other = noise.add_to_bucket(c, "other", ["team"], 5, NOW)
    bucket = AggregateBucket.get_by_id(first)
    assert bucket.channels == ["team", "ops"] and bucket.window_end == NOW + timedelta(minutes=10)
    assert [e.id for e in noise.bucket_members(first)] == [a, b]
    assert noise.waiting_event_ids([a, b, c, 999]) == {a, b, c}
    assert noise.due_bucket_ids(NOW + timedelta(minutes=4)) == []
    assert noise.due_bucket_ids(NOW + timedelta(minutes=10)) == [other, first]

    alert = Alert.create(kind="aggregate", created_at=NOW)
    with store_db.atomic():
        assert noise.link_members(int(alert.id), [a, b]) == 2
        noise.link_members(int(alert.id), [a])  # existing links are kept, no error
        claimed = noise.claim_bucket(first, NOW + timedelta(minutes=10))
        assert claimed is not None and claimed.id == first
        assert noise.claim_bucket(first, NOW + timedelta(minutes=11)) is None  # once only
        noise.set_bucket_alert(first, int(alert.id))
    assert AggregateBucket.get_by_id(first).alert_id == alert.id
    assert noise.waiting_event_ids([a, b, c]) == {c}
    assert AlertEvent.select().count() == 2
    assert noise.due_bucket_ids(NOW + timedelta(hours=1)) == [other]
    # after the flush the same key opens a new bucket, even at a time inside the old window
    with store_db.atomic():
        d = make_event(4)
        assert noise.add_to_bucket(d, "k", ["team"], 10, NOW + timedelta(minutes=5)) not in (
            first,
            other,
        )
    assert noise.bucket_of(d) is not None and noise.bucket_of(d).id != first  # type: ignore[union-attr]


def test_digest_items_and_schedule(store_db: peewee.Database) -> None:
    assert noise.digest_last_fired("daily") is None
    assert noise.earliest_pending_digest_item("daily") is None
    with store_db.atomic():
        a, b = make_event(1), make_event(2)
        first = noise.add_digest_item("daily", a, NOW)
        assert noise.add_digest_item("daily", a, NOW) == first
        noise.add_digest_item("daily", b, NOW + timedelta(hours=1))
    assert noise.earliest_pending_digest_item("daily") == NOW
    assert noise.waiting_event_ids([a, b]) == {a, b}
    rows = noise.pending_digest_items("daily", until=NOW + timedelta(minutes=30))
    assert [event.id for _, event in rows] == [a]
    alert = Alert.create(kind="digest", created_at=NOW)
    with store_db.atomic():
        # never fired: not due before the first item was queued, then claimed once
        assert not noise.claim_digest_firing("daily", NOW - timedelta(minutes=50), NOW)
        assert noise.claim_digest_firing("daily", NOW, NOW)
        assert not noise.claim_digest_firing("daily", NOW, NOW)
        noise.mark_digest_items_sent([first], int(alert.id), NOW)
        noise.set_digest_alert("daily", int(alert.id))
        assert noise.claim_digest_firing("daily", NOW + timedelta(days=1), NOW)
    assert noise.digest_last_fired("daily") == NOW + timedelta(days=1)
    assert DigestSchedule.get_by_id("daily").alert_id == alert.id
    assert DigestItem.get_by_id(first).alert_id == alert.id
    assert noise.waiting_event_ids([a, b]) == {b}
    assert noise.earliest_pending_digest_item("daily") == NOW + timedelta(hours=1)


def test_the_last_alert_on_a_resource_inside_a_window(store_db: peewee.Database) -> None:
    with store_db.atomic():
        a, other = make_event(1), make_event(2, resource="vllm-project/vllm#2")
        alert = Alert.create(event=a, fingerprint=f"{1:064x}", kind="event", created_at=NOW)
        Alert.create(event=other, fingerprint=f"{2:064x}", kind="event", created_at=NOW)
    found = noise.recent_resource_alert("github:vllm-project/vllm", "vllm-project/vllm#1", NOW - timedelta(minutes=1))
    assert found == noise.FoldTarget(int(alert.id), f"{1:064x}")
    assert noise.recent_resource_alert("github:vllm-project/vllm", "vllm-project/vllm#1", NOW) is None
    assert noise.event_alert_id(f"{1:064x}") == alert.id
    with store_db.atomic():
        folded = make_event(3)
        Event.update(decision="deduped", decision_detail={"x": 1}).where(Event.id == folded).execute()
        noise.record_fold(folded, int(alert.id))
    assert Event.get_by_id(folded).decision_detail == {"x": 1, "deduped_into_alert": alert.id}
    assert AlertEvent.get().event_id == folded

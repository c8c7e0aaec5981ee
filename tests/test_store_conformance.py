"""One store, two backends: the same behaviour on SQLite and on a real PostgreSQL server.

The postgres variant runs when $MRT_TEST_PG_URL points at a server (.ci/postgres starts one);
each test gets a database of its own, dropped afterwards.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import peewee
import pytest

from mrt.delivery.base import Message
from mrt.store import audit, legacy_v0
from mrt.store.db import open_database, open_store
from mrt.store.maintenance import integrity_check, prune
from mrt.store.migrations import LATEST, STEPS, migrate, schema_version
from mrt.store.models import (
    ALL_MODELS,
    Alert,
    AlertEvent,
    AuditLog,
    CycleMetric,
    DeliveryAttempt,
    DigestItem,
    Event,
    Outbox,
    Silence,
    SourceState,
    V0SeenEvent,
)
from mrt.store.outbox import enqueue

NOW = datetime(2026, 11, 22, 9, 50, 7, 654321, tzinfo=UTC)


def make_event(n: int, observed_at: datetime, **extra: object) -> Event:
    return Event.create(
        fingerprint=f"{n:064x}", source="github", source_key="github:vllm-project/vllm",
        resource_type="issue", resource_id=f"vllm-project/vllm#{n}", event_type="issue_opened",
        event_id=str(n), title=f"issue {n}", observed_at=observed_at, **extra,
    )


class TestStoreConformance:
    def test_migrate_reaches_latest_and_is_idempotent(self, store_target: str) -> None:
        db = open_database(store_target)
        report = migrate(db, now=NOW)
        assert (report.from_version, report.to_version) == (0, LATEST)
        assert report.backup_path is None  # a new database: nothing to back up
        again = migrate(db, now=NOW)
        assert again.steps == [] and schema_version(db) == LATEST
        db.close()
        reader = open_store(store_target, read_only=True)
        assert schema_version(reader) == LATEST
        reader.close()

    def test_upgrade_from_version_1_gives_exactly_the_models_schema(self, store_target: str) -> None:
        db = open_database(store_target)
        migrate(db, now=NOW, steps=STEPS[:1])
        make_event(1, NOW)
        report = migrate(db, now=NOW)
        assert report.steps == [f"{s.version} {s.name}" for s in STEPS[1:]]
        tables = set(db.get_tables())
        for model in ALL_MODELS:
            table = model._meta.table_name
            assert table in tables
            columns = {c.name for c in db.get_columns(table)}
            assert columns == {f.column_name for f in model._meta.sorted_fields}, table
            indexed = {tuple(i.columns) for i in db.get_indexes(table)}
            for f in model._meta.sorted_fields:
                if f.index or f.unique:
                    assert (f.column_name,) in indexed, (table, f.column_name)
        fks = {(f.column, f.dest_table) for f in db.get_foreign_keys("event")}
        assert ("silence_id", "silence") in fks
        assert Event.get(Event.fingerprint == f"{1:064x}").silence is None
        db.close()

    def test_read_only_store_refuses_writes(self, store_db: peewee.Database, store_target: str) -> None:
        store_db.close()
        reader = open_store(store_target, read_only=True)
        with pytest.raises(peewee.DatabaseError), reader.atomic():
            audit.record("cli", "x", {}, now=NOW)
        reader.close()

    def test_json_and_aware_datetimes_round_trip(self, store_db: peewee.Database) -> None:
        cursor = {"since": "2026-11-01T00:00:00Z", "ids": [1, 2], "名前": "深度求索"}
        SourceState.create(
            source_key="github:a/b", source="github", cursor=cursor, updated_at=NOW,
            next_poll_at=NOW + timedelta(minutes=5),
        )
        row = SourceState.get_by_id("github:a/b")
        assert row.cursor == cursor
        assert row.updated_at == NOW and row.updated_at.tzinfo is not None
        assert row.validators == {} and row.deferred_until is None
        # aware datetimes in another zone are stored as the same instant
        plus8 = NOW.astimezone(__import__("datetime").timezone(timedelta(hours=8)))
        SourceState.update(updated_at=plus8).where(SourceState.source_key == "github:a/b").execute()
        assert SourceState.get_by_id("github:a/b").updated_at == NOW
        # comparisons in queries happen in UTC
        due = SourceState.select().where(SourceState.next_poll_at <= NOW + timedelta(minutes=5))
        assert [s.source_key for s in due] == ["github:a/b"]

    def test_event_fingerprint_is_unique(self, store_db: peewee.Database) -> None:
        make_event(1, NOW)
        with pytest.raises(peewee.IntegrityError), store_db.atomic():
            make_event(1, NOW)
        assert Event.select().count() == 1

    def test_outbox_enqueue_is_idempotent_per_alert_and_target(self, store_db: peewee.Database) -> None:
        event = make_event(2, NOW)
        alert = Alert.create(event=event, fingerprint=event.fingerprint, created_at=NOW)
        message = Message(subject="New issue", body="issue 2")
        first = enqueue(alert.id, "team", "welink://***", message, NOW)
        again = enqueue(alert.id, "team", "welink://***", message, NOW)
        other = enqueue(alert.id, "team", "mailto://***", message, NOW)
        assert first == again != other
        assert Outbox.select().count() == 2
        assert Outbox.get_by_id(first).next_attempt_at == NOW

    def test_audit_record(self, store_db: peewee.Database) -> None:
        first = audit.record("cli", "db.prune", {"dry_run": True}, now=NOW)
        second = audit.record(
            "tui", "outbox.retry", {"outbox_id": 7}, reason="webhook fixed", result={"ok": 1},
            now=NOW + timedelta(seconds=1),
        )
        assert second > first
        newest, oldest = audit.recent()
        assert (newest.action, newest.reason, newest.result) == ("outbox.retry", "webhook fixed", {"ok": 1})
        assert (oldest.actor, oldest.params, oldest.result, oldest.at) == ("cli", {"dry_run": True}, {}, NOW)
        assert AuditLog.select().count() == 2

    def test_prune_by_age_keeps_what_alerts_still_need(self, store_db: peewee.Database) -> None:
        old = NOW - timedelta(days=100)
        fresh_event = make_event(10, NOW - timedelta(days=1))
        lonely_old = make_event(11, old)
        alerted_recently = make_event(12, old)
        member_of_recent = make_event(13, old)
        alerted_long_ago = make_event(14, old)
        waiting_for_digest = make_event(15, old)
        Alert.create(event=alerted_recently, created_at=NOW - timedelta(days=10))
        aggregate = Alert.create(kind="aggregate", created_at=NOW - timedelta(days=10))
        AlertEvent.create(alert=aggregate, event=member_of_recent)
        ancient = Alert.create(event=alerted_long_ago, created_at=NOW - timedelta(days=400))
        DigestItem.create(digest="daily", event=waiting_for_digest, created_at=old)
        outbox = Outbox.create(  # dead, not discarded: an operator still needs it
            alert=ancient, channel="team", target="t", status="dead", next_attempt_at=old,
            created_at=old, updated_at=old,
        )
        DeliveryAttempt.create(outbox=outbox, started_at=old, outcome="sent")
        DeliveryAttempt.create(outbox=outbox, started_at=NOW, outcome="sent")
        CycleMetric.create(source_key="github:a/b", started_at=old)
        CycleMetric.create(source_key="github:a/b", started_at=NOW)

        planned = prune(store_db, now=NOW, event_days=90, alert_days=365, dry_run=True)
        assert planned.as_dict() == {
            "events": 1, "delivery_attempts": 0, "cycle_metrics": 1, "alerts": 0
        }
        assert Event.select().count() == 6  # a dry run deletes nothing
        done = prune(store_db, now=NOW, event_days=90, alert_days=365)
        assert done == planned
        assert sorted(e.id for e in Event.select()) == sorted(
            e.id for e in (fresh_event, alerted_recently, member_of_recent, alerted_long_ago,
                           waiting_for_digest)
        )
        assert lonely_old.id not in {e.id for e in Event.select()}
        # the dead letter keeps its alert, the alert's event and every attempt
        assert Alert.get_by_id(ancient.id).event.id == alerted_long_ago.id
        assert DeliveryAttempt.select().count() == 2 and CycleMetric.select().count() == 1

        Outbox.update(status="discarded").execute()  # the operator let it go
        assert prune(store_db, now=NOW, event_days=90, alert_days=365).as_dict() == {
            "events": 1, "delivery_attempts": 0, "cycle_metrics": 0, "alerts": 1
        }
        assert not Alert.select().where(Alert.id == ancient.id).exists()
        assert DeliveryAttempt.select().count() == 0  # went with its outbox row
        assert prune(store_db, now=NOW, event_days=90, alert_days=365).as_dict() == {
            "events": 0, "delivery_attempts": 0, "cycle_metrics": 0, "alerts": 0
        }

    def test_silence_link_and_legacy_seen(self, store_db: peewee.Database) -> None:
        silence = Silence.create(
            matcher={"source": "github"}, created_at=NOW, expires_at=NOW + timedelta(hours=1),
            created_by="tui",
        )
        event = make_event(20, NOW, silence=silence, decision="silenced")
        assert Event.get_by_id(event.id).silence.id == silence.id
        V0SeenEvent.create(fingerprint="a" * 64, first_seen_at="2025-06-01T00:00:00+00:00")
        assert legacy_v0.legacy_seen(["a" * 64, "b" * 64]) == {"a" * 64}

    def test_integrity_check_reports_ok(self, store_db: peewee.Database) -> None:
        assert integrity_check(store_db) == ["ok"]

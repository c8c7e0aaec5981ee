from datetime import UTC, datetime

import peewee

from mrt.store.models import Event, SourceState


def test_schema_round_trips_aware_datetimes_and_json(db: peewee.Database) -> None:
    now = datetime(2026, 11, 22, 9, 30, 5, 123456, tzinfo=UTC)
    SourceState.create(
        source_key="github:a/b", source="github", cursor={"since": "x"}, updated_at=now
    )
    row = SourceState.get_by_id("github:a/b")
    assert row.cursor == {"since": "x"}
    assert row.updated_at == now and row.updated_at.tzinfo is not None
    assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1


def test_event_fingerprint_is_unique(db: peewee.Database) -> None:
    now = datetime.now(UTC)
    fields = dict(
        fingerprint="f" * 64, source="github", source_key="github:a/b", resource_type="issue",
        resource_id="a/b#1", event_type="issue_opened", event_id="1", title="t", observed_at=now,
    )
    Event.create(**fields)
    try:
        Event.create(**fields)
    except peewee.IntegrityError:
        pass
    else:
        raise AssertionError("a duplicate fingerprint was accepted")

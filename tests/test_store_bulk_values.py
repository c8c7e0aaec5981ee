"""The set-based inserts store exactly what peewee's own insert stores, byte for byte.

`RowInsert` converts values by its own fast paths (one C JSON encoder, datetimes made into
SQLite's text once); these tests write the same values through `Model.insert` and through
`RowInsert` and compare the raw columns as the database holds them, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import peewee
import pytest

from mrt.store.bulk import RowInsert
from mrt.store.cycle import EVENTS, OUTBOX
from mrt.store.db import fetch_all
from mrt.store.fields import sqlite_datetime, to_json
from mrt.store.models import Alert, Event, Outbox, RuleVersion

CHINA = timezone(timedelta(hours=8))
AT = datetime(2026, 12, 5, 17, 30, 15, 123456, tzinfo=CHINA)  # 09:30:15.123456 UTC
ODD_VALUES: list[Any] = [
    {"b": 1, "a": [1, None, True, 2.5], "ü": "日本語 ünï", "nested": {"z": {}, "y": []}},
    ["bug", "p1"],
    [],
    "just text",
    {"when": AT, "amount": Decimal("1.10"), "tuple": (1, 2)},  # str() of what JSON has not
    float("nan"),
    12345678901234567890,
]


@pytest.mark.parametrize("value", ODD_VALUES)
def test_json_text_is_the_one_json_dumps_makes(value: Any) -> None:
    expected = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    assert to_json(value) == expected


def test_a_circular_value_is_refused_as_before() -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(ValueError, match="Circular reference"):
        to_json(loop)


def test_sqlite_datetime_is_the_text_sqlite3_stores() -> None:
    assert sqlite_datetime(AT) == "2026-12-05 09:30:15.123456"
    assert sqlite_datetime(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02 03:04:05"
    naive = datetime(2026, 1, 2, 3, 4, 5)
    assert sqlite_datetime(naive) == "2026-01-02 03:04:05"


def _event_fields(fp: str, details: Any) -> dict[str, Any]:
    return {
        "fingerprint": fp, "source": "github", "source_key": "github:a/b",
        "resource_type": "issue", "resource_id": "a/b#1", "event_type": "issue_opened",
        "event_id": "1:opened", "title": "ünï — title", "summary": "body", "url": "https://x/1",
        "author": "octo", "labels": ["bug", "p1"], "occurred_at": AT,
        "observed_at": datetime(2026, 12, 5, 9, 0, tzinfo=UTC), "details": details,
        "raw": {"id": 1, "when": AT}, "legacy_fingerprint": None, "decision": "notify",
        "decision_detail": {"matched": ["r"]}, "rule_version": None, "error": None,
        "silence": None,
    }


def _raw_rows(db: peewee.Database, table: str) -> list[tuple[Any, ...]]:
    return fetch_all(db, f'SELECT * FROM "{table}" ORDER BY "id"')


@pytest.mark.parametrize("details", ODD_VALUES[:5])
def test_an_event_row_is_stored_as_peewee_stores_it(store_db: peewee.Database, details: Any) -> None:
    version = RuleVersion.create(digest="d", rules={"r": 1}, created_at=AT)
    by_peewee = _event_fields("fp-peewee", details) | {"rule_version": version.id}
    by_bulk = _event_fields("fp-bulk", details) | {"rule_version": version.id}
    with store_db.atomic():
        Event.insert(**by_peewee).execute()
        EVENTS.execute(store_db, [tuple(by_bulk[name] for name in EVENTS_COLUMNS)])
    first, second = _raw_rows(store_db, "event")
    assert first[2:] == second[2:]  # past the id and the fingerprint
    assert (first[1], second[1]) == ("fp-peewee", "fp-bulk")


def test_an_outbox_row_and_its_defaults_as_peewee_stores_them(store_db: peewee.Database) -> None:
    alerts = [Alert.create(kind="event", title="t", priority="normal", tags=[], matched=[],
                           payload={}, created_at=AT) for _ in range(2)]
    values = {"alert": alerts[0].id, "channel": "hook", "target": "json://h/x", "status": "pending",
              "subject": "s", "body": "ünï body", "next_attempt_at": AT, "created_at": AT,
              "updated_at": AT}
    with store_db.atomic():
        Outbox.insert(**values).execute()
        values["alert"] = alerts[1].id
        OUTBOX.execute(store_db, [tuple(values[name] for name in OUTBOX_COLUMNS)])
    first, second = _raw_rows(store_db, "outbox")
    assert first[2:] == second[2:]  # past the id and the alert
    assert (first[1], second[1]) == (alerts[0].id, alerts[1].id)


EVENTS_COLUMNS = tuple(_event_fields("x", None))
OUTBOX_COLUMNS = ("alert", "channel", "target", "status", "subject", "body", "next_attempt_at",
                  "created_at", "updated_at")


def test_the_tables_columns_are_the_ones_written_here() -> None:
    # the inserts above name every column the cycle's inserts name, in the same order
    assert RowInsert(Event, EVENTS_COLUMNS).width == EVENTS.width == len(EVENTS_COLUMNS)
    assert RowInsert(Outbox, OUTBOX_COLUMNS).width == OUTBOX.width

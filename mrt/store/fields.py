"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import peewee


class UtcDateTimeField(peewee.DateTimeField):
    """Aware UTC datetimes in Python, naive UTC in the database (sorts and compares as text)."""

    def db_value(self, value: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return super().db_value(value)  # type: ignore[no-untyped-call]

    def python_value(self, value: Any) -> Any:
        value = super().python_value(value)  # type: ignore[no-untyped-call]
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


# one encoder for every value: json.dumps with options builds a new encoder per call
_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=str)


class JsonField(peewee.TextField):
    """JSON as text: portable, readable with the sqlite3 shell, never holding secrets."""

    def db_value(self, value: Any) -> Any:
        if value is None:
            return None
        return _ENCODER.encode(value)

    def python_value(self, value: Any) -> Any:
        if value is None:
            return None
        return json.loads(value)

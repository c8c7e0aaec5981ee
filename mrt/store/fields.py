"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from json.encoder import encode_basestring
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
# ... and JSONEncoder.encode builds its C encoder per call: this one is built once, with the
# same options and no circular-reference bookkeeping (a cycle is a RecursionError in C, after
# which _ENCODER says "Circular reference detected", as before)
_MAKE_ENCODER = getattr(json.encoder, "c_make_encoder", None)  # None: a Python without _json
_C_ENCODER: Callable[[Any, int], Any] | None = (
    None
    if _MAKE_ENCODER is None
    else _MAKE_ENCODER(None, str, encode_basestring, None, ": ", ", ", True, False, True)
)


def to_json(value: Any) -> str:
    """`value` as the JSON text JsonField stores (sorted keys, UTF-8 as is, str() of the rest)."""
    if _C_ENCODER is None:
        return _ENCODER.encode(value)
    try:
        return "".join(_C_ENCODER(value, 0))
    except RecursionError:
        return _ENCODER.encode(value)


def utc_naive(value: datetime) -> datetime:
    """An aware datetime as naive UTC, as UtcDateTimeField stores it (naive ones as they are)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


@lru_cache(maxsize=512)
def sqlite_datetime(value: datetime) -> str:
    """The text SQLite stores for a UtcDateTimeField: what the sqlite3 module's datetime
    adapter makes of `utc_naive(value)`, made once for the many rows of a cycle that share a
    datetime (created_at, updated_at, next_attempt_at ...)."""
    return utc_naive(value).isoformat(" ")


class JsonField(peewee.TextField):
    """JSON as text: portable, readable with the sqlite3 shell, never holding secrets."""

    def db_value(self, value: Any) -> Any:
        if value is None:
            return None
        return to_json(value)

    def python_value(self, value: Any) -> Any:
        if value is None:
            return None
        return json.loads(value)

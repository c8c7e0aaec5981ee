"""Set-based inserts for the cycle's hot path: one prepared statement for many rows.

peewee's `insert_many` builds the SQL text value by value in Python, through its query
builder, for every statement; for the hundreds of rows a busy cycle writes that building was
most of the commit (docs/PERFORMANCE.md, "Ingest"). A `RowInsert` builds its statement once
per (table, columns) and hands the rows to the driver as they are:

    EVENTS = RowInsert(Event, ("fingerprint", "source", ...))
    EVENTS.execute(db, rows)          # rows: tuples in the order of the columns

- SQLite: `executemany` of one prepared statement (what the raw-copy baseline does).
- PostgreSQL: multi-row `VALUES` lists, a few hundred rows a statement (psycopg2's
  `executemany` would be one round trip a row).

Values are converted as peewee would convert them, once a value: JSON by `fields.to_json`,
UTC datetimes to naive UTC (on SQLite straight to the text the sqlite3 module would store,
made once for a datetime many rows share), other fields by their `db_value`; text columns and
ints are passed as they are (the callers hand str, int or None). A field with a Python-side
default that the caller does not name is filled with that default, as `insert_many` does, so a
column added later with a default needs no change here. Errors are peewee's (IntegrityError,
OperationalError ...), as from any other query. Runs in the caller's transaction.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import peewee

from mrt.store.db import is_sqlite
from mrt.store.fields import JsonField, UtcDateTimeField, sqlite_datetime, to_json, utc_naive

# peewee's own wrapper: the driver's errors raised as peewee.IntegrityError, OperationalError ...
_PEEWEE_ERRORS: Any = vars(peewee)["__exception_wrapper__"]
# PostgreSQL takes at most 65,535 parameters a statement; a few hundred rows is plenty
_PG_ROWS = 500


class RowInsert:
    """INSERT INTO table (columns) for many rows; `suffix` is appended (an ON CONFLICT ...)."""

    def __init__(self, model: type[peewee.Model], columns: Sequence[str], suffix: str = "") -> None:
        self.model, self.columns = model, tuple(columns)
        meta = model._meta
        given = [meta.fields[name] for name in columns]
        filled = [f for f in meta.sorted_fields if f.name not in columns and f in meta.defaults]
        self.width = len(given)
        self._defaults = [meta.defaults[f] for f in filled]
        fields = given + filled
        self._columns = len(fields)
        self._convert = {
            dialect: [_converter(f, sqlite=dialect) for f in fields] for dialect in (True, False)
        }
        names = ", ".join(f'"{f.column_name}"' for f in fields)
        self._head = f'INSERT INTO "{meta.table_name}" ({names}) VALUES '
        self._suffix = f" {suffix}" if suffix else ""
        self._sql: dict[tuple[str, int, str], str] = {}

    def _statement(self, param: str, rows: int, returning: str = "") -> str:
        key = (param, rows, returning)
        if key not in self._sql:
            one = "(" + ", ".join([param] * self._columns) + ")"
            tail = f" RETURNING {returning}" if returning else ""
            self._sql[key] = self._head + ", ".join([one] * rows) + self._suffix + tail
        return self._sql[key]

    def values(self, row: Sequence[Any], *, sqlite: bool = True) -> list[Any]:
        """One row as the driver takes it: converted, and the defaults appended."""
        if len(row) != self.width:
            raise ValueError(f"{self._head}: {len(row)} values for {self.width} columns")
        converters = self._convert[sqlite]
        out = [v if c is None or v is None else c(v) for c, v in zip(converters, row, strict=False)]
        for default in self._defaults:
            value = default() if callable(default) else default
            convert = converters[len(out)]
            out.append(value if convert is None or value is None else convert(value))
        return out

    def execute(self, db: peewee.Database, rows: Iterable[Sequence[Any]]) -> int:
        """Insert every row (in order) in the caller's transaction; returns how many."""
        sqlite = is_sqlite(db)
        values = [self.values(row, sqlite=sqlite) for row in rows]
        if not values:
            return 0
        with _PEEWEE_ERRORS:
            cursor = db.cursor()  # type: ignore[no-untyped-call]
            if sqlite:
                cursor.executemany(self._statement("?", 1), values)
            else:
                for start in range(0, len(values), _PG_ROWS):
                    chunk = values[start : start + _PG_ROWS]
                    flat = [v for row in chunk for v in row]
                    cursor.execute(self._statement(db.param, len(chunk)), flat)
        return len(values)

    def returning(
        self, db: peewee.Database, rows: Iterable[Sequence[Any]], columns: str
    ) -> list[tuple[Any, ...]]:
        """PostgreSQL: insert every row and return `columns` (SQL, e.g. '"fingerprint", "id"')
        of the rows inserted (with an ON CONFLICT ... DO NOTHING suffix, not of those skipped),
        in the statements `execute` runs: no read afterwards for the new rows' ids."""
        if is_sqlite(db):
            raise TypeError("RowInsert.returning is for PostgreSQL (SQLite: execute, then read)")
        values = [self.values(row, sqlite=False) for row in rows]
        found: list[tuple[Any, ...]] = []
        with _PEEWEE_ERRORS:
            cursor = db.cursor()  # type: ignore[no-untyped-call]
            for start in range(0, len(values), _PG_ROWS):
                chunk = values[start : start + _PG_ROWS]
                flat = [v for row in chunk for v in row]
                cursor.execute(self._statement(db.param, len(chunk), columns), flat)
                found.extend(tuple(row) for row in cursor.fetchall())
        return found


class Statement:
    """One statement written once as plain SQL, its values named by the model's fields:

        SUCCESS = Statement(SourceState, 'UPDATE "source_state" SET "cursor" = {cursor} ...')
        SUCCESS.execute(db, cursor={...}, source_key="github:a/b")

    Each `{field}` becomes the dialect's parameter and its value is converted as RowInsert
    converts that field's (a name used twice is bound twice). Runs in the caller's transaction.
    """

    def __init__(self, model: type[peewee.Model], sql: str) -> None:
        names = [name for _, name, _, _ in string.Formatter().parse(sql) if name]
        fields = model._meta.fields
        self._names = names
        self._convert = {
            dialect: [_converter(fields[name], sqlite=dialect) for name in names]
            for dialect in (True, False)
        }
        self._sql = {param: sql.format_map(_Marks(param)) for param in ("?", "%s")}

    def execute(self, db: peewee.Database, **values: Any) -> None:
        sqlite = is_sqlite(db)
        params = [
            v if c is None or v is None else c(v)
            for c, v in zip(self._convert[sqlite], (values[n] for n in self._names), strict=True)
        ]
        db.execute_sql(self._sql[db.param], params)  # type: ignore[no-untyped-call]


class _Marks(dict[str, str]):
    def __init__(self, param: str) -> None:
        super().__init__()
        self.param = param

    def __missing__(self, key: str) -> str:
        return self.param


def _converter(field: peewee.Field, *, sqlite: bool) -> Callable[[Any], Any] | None:
    """How a value of `field` becomes the driver's (None: as it is)."""
    if type(field) is peewee.TextField:
        return None
    if isinstance(field, JsonField):
        return to_json
    if isinstance(field, UtcDateTimeField):
        return _datetime(field, sqlite_datetime if sqlite else utc_naive)
    if isinstance(field, peewee.IntegerField | peewee.ForeignKeyField):
        return _exact(int, field.db_value)
    convert: Callable[[Any], Any] = field.db_value
    return convert


def _datetime(field: peewee.Field, fast: Callable[[Any], Any]) -> Callable[[Any], Any]:
    slow: Callable[[Any], Any] = field.db_value
    return lambda v: fast(v) if isinstance(v, datetime) else slow(v)


def _exact(kind: type, slow: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Values of exactly `kind` as they are (an int is an int); the rest through `slow`."""
    return lambda v: v if type(v) is kind else slow(v)


def rows_in(db: peewee.Database, sql: str, values: Sequence[Any]) -> list[tuple[Any, ...]]:
    """The rows of `sql` whose `{marks}` is filled with `values` as bound parameters (500 a
    statement, under SQLite's oldest bound-variable limit): the lookups of a cycle's
    fingerprints and ids, without building the IN list value by value."""
    found: list[tuple[Any, ...]] = []
    for start in range(0, len(values), 500):
        chunk = list(values[start : start + 500])
        text = sql.format(marks=", ".join([db.param] * len(chunk)))
        cursor = db.execute_sql(text, chunk)  # type: ignore[no-untyped-call]
        found.extend(tuple(row) for row in cursor.fetchall())
    return found

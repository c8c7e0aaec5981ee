"""Opening the one database: SQLite (default) or PostgreSQL, bound to the models' proxy."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import peewee

from mrt.errors import StoreError
from mrt.store.models import database_proxy

SQLITE_PRAGMAS = {
    "journal_mode": "wal",  # the worker writes while the TUI and CLI read
    "busy_timeout": 10_000,  # ms; writers wait for each other instead of failing
    "foreign_keys": 1,
    "synchronous": "normal",  # safe with WAL: a crash loses at most the last commit, never corrupts
}


def open_database(target: str | Path, *, read_only: bool = False) -> peewee.Database:
    """Connect to `target` (a file path, or a postgresql:// URL) and bind the models to it."""
    text = str(target)
    db: peewee.Database
    if text.startswith(("postgresql://", "postgres://")):
        from playhouse.db_url import connect

        db = connect(text)
    else:
        path = Path(text).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the database directory {path.parent}: {exc.strerror}"
            ) from exc
        pragmas = dict(SQLITE_PRAGMAS)
        if read_only:
            pragmas["query_only"] = 1
        db = peewee.SqliteDatabase(str(path), pragmas=pragmas, timeout=10)
    try:
        db.connect(reuse_if_open=True)
    except peewee.OperationalError as exc:
        raise StoreError(f"cannot open the database {text}: {exc}") from exc
    database_proxy.initialize(db)
    return db


def is_sqlite(db: peewee.Database) -> bool:
    return isinstance(db, peewee.SqliteDatabase)


@contextmanager
def write_transaction(db: peewee.Database) -> Iterator[None]:
    """A writer's transaction: BEGIN IMMEDIATE on SQLite, so it never fails half-way on a lock."""
    if is_sqlite(db) and not db.in_transaction():
        with db.atomic("IMMEDIATE"):
            yield
    else:
        with db.atomic():
            yield

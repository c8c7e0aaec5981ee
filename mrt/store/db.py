"""Opening the one database: SQLite (default) or PostgreSQL, bound to the models' proxy.

`open_database` connects; `open_store` connects and brings the schema up to date (after a
backup), or, read-only, refuses a database that is missing or not migrated yet.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import peewee

from mrt.errors import StoreError
from mrt.store.db_errors import real_cause
from mrt.store.models import database_proxy

DEFAULT_BUSY_TIMEOUT_MS = 10_000  # state.busy_timeout_ms when no config says otherwise
log = logging.getLogger(__name__)

SQLITE_PRAGMAS = {
    "journal_mode": "wal",  # the worker writes while the TUI and CLI read
    "busy_timeout": DEFAULT_BUSY_TIMEOUT_MS,  # ms; writers wait for each other, not fail
    "foreign_keys": 1,
    "synchronous": "normal",  # safe with WAL: a crash loses at most the last commit, never corrupts
}


def is_postgres_url(target: str | Path) -> bool:
    return str(target).startswith(("postgresql://", "postgres://"))


def describe_target(target: str | Path) -> str:
    """The target for messages: a PostgreSQL URL without its password."""
    text = str(target)
    if not is_postgres_url(text):
        return text
    scheme, _, rest = text.partition("://")
    creds, at, host = rest.rpartition("@")
    if at and ":" in creds:
        creds = creds.split(":", 1)[0] + ":***"
    return f"{scheme}://{creds}{at}{host}"


def open_database(
    target: str | Path,
    *,
    read_only: bool = False,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
) -> peewee.Database:
    """Connect to `target` (a file path, or a postgresql:// URL) and bind the models to it.

    `busy_timeout_ms` (state.busy_timeout_ms) is how long an SQLite connection waits for
    another's lock before it fails; PostgreSQL waits on its own terms.
    """
    text = str(target)
    db: peewee.Database
    if is_postgres_url(text):
        from playhouse.db_url import connect

        from mrt.deferred import load_postgres_driver

        needs_driver = StoreError(
            "PostgreSQL needs psycopg2: pip install 'model-release-tracker[postgres]'"
        )
        if not load_postgres_driver() and vars(peewee).get("psycopg") is None:  # nor psycopg 3
            raise needs_driver
        try:
            db = connect(text)
        except ImportError as exc:
            raise needs_driver from exc
    else:
        path = Path(text).expanduser()
        if not read_only:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the database directory {path.parent}: {exc.strerror}"
                ) from exc
        pragmas: dict[str, object] = dict(SQLITE_PRAGMAS, busy_timeout=busy_timeout_ms)
        if read_only:
            # no journal_mode switch either: a reader must not write the file's header
            pragmas.pop("journal_mode")
            pragmas["query_only"] = 1
        db = peewee.SqliteDatabase(str(path), pragmas=pragmas, timeout=busy_timeout_ms / 1000)
    try:
        db.connect(reuse_if_open=True)
    except peewee.DatabaseError as exc:  # also "file is not a database"
        raise StoreError(_cannot_open(text, exc, read_only=read_only)) from exc
    if read_only and not isinstance(db, peewee.SqliteDatabase):
        # PostgreSQL's equivalent of query_only, for every transaction of this session
        execute(db, "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    database_proxy.initialize(db)
    return db


def _cannot_open(target: str, exc: Exception, *, read_only: bool) -> str:
    from mrt.store.db_errors import advice

    path = Path(target).expanduser()
    if not read_only and not is_postgres_url(target) and path.exists() and not (
        os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)
    ):
        # WAL creates <file>-wal and <file>-shm beside the database: both must be writable
        return (
            f"cannot open the database {path}: it is read-only ({exc}): make the file and its "
            "directory writable by this user (or remount the disk read-write)"
        )
    text = f"cannot open the database {describe_target(target)}: {exc}"
    what_to_do = advice(exc)
    return f"{text}: {what_to_do}" if what_to_do else text


def open_store(
    target: str | Path,
    *,
    read_only: bool = False,
    migrate: bool = True,
    backup_dir: Path | None = None,
    now: datetime | None = None,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
) -> peewee.Database:
    """Open the database ready for use: migrated (after a backup) unless `read_only`.

    Read-only opens never change anything: a missing file or an out-of-date schema is a
    StoreError that tells the operator what to run.
    """
    from mrt.store import migrations  # migrations imports this module

    if read_only and not is_postgres_url(target):
        path = Path(str(target)).expanduser()
        if not path.exists():
            raise StoreError(
                f"no database at {path} yet: start mrt-worker or run `mrt db migrate`"
            )
    if not read_only and migrate and not is_postgres_url(target):
        refuse_truncated(Path(str(target)).expanduser(), backup_dir)
    db = open_database(target, read_only=read_only, busy_timeout_ms=busy_timeout_ms)
    try:
        version = migrations.schema_version(db)
        if version > migrations.LATEST:
            raise StoreError(
                f"the database {describe_target(target)} is at schema version {version}, newer "
                f"than this MRT knows ({migrations.LATEST}): upgrade MRT"
            )
        if version < migrations.LATEST:
            if read_only or not migrate:
                raise StoreError(
                    f"the database {describe_target(target)} is at schema version {version}, "
                    f"this MRT needs {migrations.LATEST}: run `mrt db migrate` or start "
                    "mrt-worker (both back the file up first)"
                )
            migrations.migrate(db, backup_dir=backup_dir, now=now)
    except BaseException:
        db.close()
        raise
    return db


def refuse_truncated(path: Path, backup_dir: Path | None) -> None:
    """A zero-length file about to become a new database: refused when a backup of it holds
    cursors (restore that instead), else allowed with a loud WARNING (store/empty_file.py)."""
    from mrt.store.empty_file import inspect_empty

    empty = inspect_empty(path, backup_dir)
    if empty is None:
        return
    if empty.refuse:
        raise StoreError(empty.message(), title="Database file is empty")
    log.warning("%s", empty.message())


def bound_database() -> peewee.Database:
    """The database open_database bound the models to (for the few calls that need the handle)."""
    db: peewee.Database = database_proxy.obj
    return db


def fetch_all(db: peewee.Database, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Raw SQL for the few places that read tables no model describes (v0's, PRAGMAs)."""
    cursor = db.execute_sql(sql, params)  # type: ignore[no-untyped-call]
    return [tuple(row) for row in cursor.fetchall()]


def execute(db: peewee.Database, sql: str, params: tuple[Any, ...] = ()) -> None:
    """Raw SQL that returns nothing (session settings)."""
    db.execute_sql(sql, params)  # type: ignore[no-untyped-call]


def is_sqlite(db: peewee.Database) -> bool:
    return isinstance(db, peewee.SqliteDatabase)


def sqlite_path(db: peewee.Database) -> Path | None:
    """The file behind an SQLite database; None for PostgreSQL or an in-memory database."""
    if not is_sqlite(db) or db.database in ("", ":memory:"):
        return None
    return Path(db.database)


def require_transaction(db: peewee.Database, what: str) -> None:
    """Refuse to write outside the caller's transaction: `what` commits only as part of it.

    A store function that must be atomic with its caller's other writes (a cycle's events with
    the cursor's move) does not open its own transaction; it checks that one is open. Not an
    `assert`: python -O must not turn a lost-atomicity bug into silent partial commits.
    """
    if not db.in_transaction():
        raise RuntimeError(
            f"{what} must run inside the caller's write_transaction(db); none is open"
        )


@contextmanager
def write_transaction(db: peewee.Database) -> Iterator[None]:
    """A writer's transaction: BEGIN IMMEDIATE on SQLite, so it never fails half-way on a lock.

    When SQLite already rolled the transaction back itself (disk full, I/O error), the failed
    ROLLBACK is not what the caller sees: the error that caused it is re-raised instead.
    """
    try:
        if is_sqlite(db) and not db.in_transaction():
            with db.atomic("IMMEDIATE"):
                yield
        else:
            with db.atomic():
                yield
    except peewee.OperationalError as exc:
        cause = real_cause(exc)
        if cause is exc:
            raise
        raise cause from None

"""What a database error means for the operator: its real cause, its kind, one clear line.

SQLite rolls a transaction back by itself on SQLITE_FULL, SQLITE_IOERR and SQLITE_BUSY; the
ROLLBACK that follows then fails with "cannot rollback - no transaction is active" (or "no such
savepoint") and that error hides the cause. `real_cause` walks past those to the error that
mattered. `unavailable_kind` says whether an error is the database being unavailable for a
while (locked, full, read-only, I/O, connection lost), which a 24x7 worker waits out, rather
than a bug. `explain` turns it into one line: which database, what happened, what to do.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import peewee

_ROLLBACK_NOISE = ("no transaction is active", "no such savepoint")

# SQLite's primary result codes (the low byte of an extended code)
_SQLITE_KINDS = {5: "locked", 6: "locked", 8: "read_only", 10: "io", 13: "full", 14: "io", 15: "io"}
_MESSAGE_KINDS = (
    ("database is locked", "locked"),
    ("database table is locked", "locked"),
    ("database or disk is full", "full"),
    ("readonly database", "read_only"),
    ("read-only", "read_only"),
    ("disk i/o error", "io"),
    ("unable to open database file", "io"),
    ("no space left on device", "full"),
    ("could not extend file", "full"),
)

_ADVICE = {
    "locked": "another process holds its write lock (a long `mrt` command, a backup, an "
    "sqlite3 shell?); end it",
    "full": "free space on that disk (or move state.sqlite_path to a larger one)",
    "read_only": "make the file and its directory writable by this user (or remount the disk "
    "read-write)",
    "io": "check the disk and the file's permissions",
    "unavailable": "check that the database server is up and reachable",
}
_WHAT = {
    "locked": "is locked by another process",
    "full": "cannot grow: the disk is full",
    "read_only": "is read-only",
    "io": "cannot be read or written (I/O error)",
    "unavailable": "is unavailable",
}


def _is_rollback_noise(exc: BaseException) -> bool:
    return isinstance(exc, (peewee.OperationalError, sqlite3.OperationalError)) and any(
        text in str(exc) for text in _ROLLBACK_NOISE
    )


def real_cause(exc: BaseException) -> BaseException:
    """The error a failed ROLLBACK masked (itself when nothing was masked)."""
    seen: set[int] = set()
    current = exc
    while _is_rollback_noise(current) and id(current) not in seen:
        seen.add(id(current))
        context = current.__context__
        if context is None:
            break
        current = context
    return current


def _driver_error(exc: BaseException) -> BaseException:
    """The driver's exception that peewee wrapped (kept as `orig`), else `exc` itself."""
    orig = getattr(exc, "orig", None)
    if isinstance(orig, BaseException):
        return orig
    if exc.args and isinstance(exc.args[0], BaseException):
        return exc.args[0]
    return exc


def unavailable_kind(exc: BaseException) -> str | None:
    """locked | full | read_only | io | unavailable, or None when `exc` is not the database
    being unavailable (a bug, a constraint, a schema problem: those must not be waited out)."""
    exc = real_cause(exc)
    if not isinstance(exc, (peewee.OperationalError, sqlite3.OperationalError)):
        return None
    driver = _driver_error(exc)
    code = getattr(driver, "sqlite_errorcode", None)
    if isinstance(code, int) and (code & 0xFF) in _SQLITE_KINDS:
        return _SQLITE_KINDS[code & 0xFF]
    text = f"{exc} {driver}".lower()
    for needle, kind in _MESSAGE_KINDS:
        if needle in text:
            return kind
    if isinstance(driver, sqlite3.Error):
        return None  # SQLite's other operational errors (no such table ...) are not transient
    return "unavailable"  # PostgreSQL: the connection dropped, the server is restarting


def describe(target: str | Path | None) -> str:
    from mrt.store.db import describe_target  # db imports this module

    return f"the database {describe_target(target)}" if target else "the database"


def explain(exc: BaseException, target: str | Path | None) -> str:
    """One line: which database, what happened (the driver's own words), what to do."""
    cause = real_cause(exc)
    kind = unavailable_kind(cause)
    detail = str(cause).strip() or str(_driver_error(cause)).strip() or type(cause).__name__
    if kind is None:
        return f"{describe(target)} failed: {detail}"
    return f"{describe(target)} {_WHAT[kind]} ({detail}): {_ADVICE[kind]}"


def is_database_error(exc: BaseException) -> bool:
    return isinstance(real_cause(exc), (peewee.PeeweeException, sqlite3.Error))


def explain_error(exc: BaseException, target: str | Path | None) -> str:
    """`explain` for a database error, the error's own text for anything else."""
    return explain(exc, target) if is_database_error(exc) else str(exc)


def bound_target() -> str | None:
    """The database the models are bound to (for messages), if any."""
    from mrt.store.models import database_proxy

    db = database_proxy.obj
    name = getattr(db, "database", None)
    return str(name) if name else None


def advice(exc: BaseException) -> str | None:
    """What to do about an unavailable database (None for other errors)."""
    kind = unavailable_kind(exc)
    return _ADVICE[kind] if kind else None


def unavailable_phrase(text: str | None) -> str | None:
    """The words of an unavailable database in an error text (a cycle's reported error, where
    the exception itself is gone), or None."""
    lowered = (text or "").lower()
    return next((needle for needle, _ in _MESSAGE_KINDS if needle in lowered), None)

"""Shared by the fleet tests (several workers on one database): two connections racing. No tests
live here.

`race(db, first, second)`: `first` runs in a write transaction on one thread's connection and
keeps it open; `second` then runs in its own write transaction on another thread's connection;
once `second` is seen waiting for a lock (PostgreSQL's pg_stat_activity) or finished, the
first commits. What each returned is returned (what a thread raised is raised here).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import peewee

from mrt.store.db import fetch_all, is_sqlite, write_transaction

WAIT_SECONDS = 20.0


def _waiting_for_a_lock(db: peewee.Database) -> bool:
    rows = fetch_all(
        db,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock'",
    )
    return int(rows[0][0]) > 0


def race(
    db: peewee.Database, first: Callable[[], Any], second: Callable[[], Any]
) -> tuple[Any, Any]:
    results: dict[str, Any] = {}
    errors: list[BaseException] = []
    first_done, commit = threading.Event(), threading.Event()

    def run(name: str, work: Callable[[], Any], hold: bool) -> None:
        try:
            with write_transaction(db):
                results[name] = work()
                if hold:
                    first_done.set()
                    commit.wait(WAIT_SECONDS)
        except BaseException as exc:
            errors.append(exc)
        finally:
            first_done.set()
            db.close()

    one = threading.Thread(target=run, args=("first", first, True))
    one.start()
    first_done.wait(WAIT_SECONDS)
    two = threading.Thread(target=run, args=("second", second, False))
    two.start()
    deadline = time.monotonic() + WAIT_SECONDS
    # SQLite: the second's BEGIN IMMEDIATE waits on the busy timeout, whatever happens next
    while not is_sqlite(db) and two.is_alive() and not _waiting_for_a_lock(db):
        assert time.monotonic() < deadline, "the second transaction neither waited nor ended"
        two.join(0.02)
    commit.set()
    one.join(WAIT_SECONDS)
    two.join(WAIT_SECONDS)
    if errors:
        raise errors[0]
    return results.get("first"), results.get("second")

"""Copies of the SQLite file taken with the online backup API, and restoring one.

The backup API copies a consistent snapshot page by page while the worker keeps writing (a plain
file copy of a WAL database can miss the last commits or tear a page). PostgreSQL is backed up
with the operator's own tools (pg_dump); these functions are for SQLite files.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mrt.errors import StoreError

# A worker writes its heartbeat far more often than this; an older one means it is gone.
HEARTBEAT_FRESH = timedelta(minutes=2)


def _stamp(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%SZ")


def _free_name(directory: Path, stem: str, suffix: str) -> Path:
    candidate = directory / f"{stem}{suffix}"
    n = 1
    while candidate.exists():
        n += 1
        candidate = directory / f"{stem}-{n}{suffix}"
    return candidate


def _copy(source: sqlite3.Connection, dest: Path) -> None:
    try:
        target = sqlite3.connect(str(dest))
    except sqlite3.Error as exc:
        raise StoreError(f"cannot write the backup {dest}: {exc}") from exc
    try:
        source.backup(target)
    except sqlite3.Error as exc:
        target.close()
        dest.unlink(missing_ok=True)
        raise StoreError(f"the backup to {dest} failed: {exc}") from exc
    target.close()


def configured_backup_dir(backup_dir: str | None) -> Path | None:
    """`state.backup_dir` as a directory (`~` expanded; relative to the current directory, like
    `sqlite_path`). None when the config names none: backups go beside the database."""
    return Path(backup_dir).expanduser() if backup_dir else None


def default_backup_path(db_path: Path, *, label: str, now: datetime, directory: Path | None = None) -> Path:
    """`mrt.sqlite3` -> `mrt.<label>-<UTC stamp>.sqlite3` in `directory` (default: beside it)."""
    where = directory if directory is not None else db_path.parent
    try:
        where.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the backup directory {where}: {exc.strerror}") from exc
    return _free_name(where, f"{db_path.stem}.{label}-{_stamp(now)}", db_path.suffix or ".sqlite3")


def backup(db_path: Path, dest: Path) -> Path:
    """Copy the SQLite database at `db_path` to `dest` (a new file, or a directory to put it in).

    Safe while the worker writes. Never overwrites an existing file. Returns the file written.
    """
    if not db_path.exists():
        raise StoreError(f"no database at {db_path} to back up")
    if dest.is_dir():
        dest = _free_name(dest, f"{db_path.stem}.backup", db_path.suffix or ".sqlite3")
    elif dest.exists():
        raise StoreError(f"{dest} already exists: choose a new file name or a directory")
    source = sqlite3.connect(str(db_path))
    try:
        _copy(source, dest)
    finally:
        source.close()
    return dest


def backup_before_migration(
    db_path: Path,
    *,
    from_version: int,
    now: datetime,
    backup_dir: Path | None = None,
) -> Path:
    """The automatic copy taken before a migration, while the migration holds the writer lock.

    Called inside the first step's BEGIN IMMEDIATE transaction before it writes anything: a
    second connection reads exactly the state the migration starts from (WAL lets it read
    while we hold the lock), and nobody can commit in between. (The migrating connection
    itself cannot be the source: the backup would wait forever on its own transaction.)
    """
    dest = default_backup_path(db_path, label=f"v{from_version}", now=now, directory=backup_dir)
    source = sqlite3.connect(str(db_path), timeout=10)
    try:
        _copy(source, dest)
    finally:
        source.close()
    return dest


def sqlite_integrity(path: Path) -> list[str]:
    """`PRAGMA integrity_check` of a file that is not (necessarily) ours yet: ["ok"] when sound."""
    if not path.is_file():
        return [f"{path} is not a file"]
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return [f"cannot open {path}: {exc}"]
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
        problems = [str(r[0]) for r in rows]
        fk = conn.execute("PRAGMA foreign_key_check").fetchall()
        problems = [p for p in problems if p != "ok"] + [
            f"foreign key violation: table {r[0]} row {r[1]} -> {r[2]}" for r in fk
        ]
        return problems or ["ok"]
    except sqlite3.DatabaseError as exc:
        return [f"{path} is not a readable SQLite database: {exc}"]
    finally:
        conn.close()


@dataclass(frozen=True)
class RestoreReport:
    restored_from: Path
    previous_copy: Path | None  # the file as it was just before the restore


def fresh_worker(db_path: Path, *, now: datetime) -> str | None:
    """The id of a worker whose heartbeat is fresh in this database, or None."""
    if not db_path.exists():
        return None
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        if not conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='worker_heartbeat'"
        ).fetchone():
            return None
        # stored as peewee writes UtcDateTimeField on SQLite: naive UTC text, which sorts
        cutoff = (now.astimezone(UTC) - HEARTBEAT_FRESH).replace(tzinfo=None)
        row = conn.execute(
            "SELECT worker_id FROM worker_heartbeat WHERE stopped_at IS NULL AND heartbeat_at >= ?"
            " ORDER BY heartbeat_at DESC LIMIT 1",
            (str(cutoff),),
        ).fetchone()
        return str(row[0]) if row else None
    finally:
        conn.close()


def restore(
    db_path: Path,
    source: Path,
    *,
    now: datetime,
    force: bool = False,
    backup_dir: Path | None = None,
) -> RestoreReport:
    """Replace the database at `db_path` with the backup `source`.

    Refuses while a worker's heartbeat is fresh (unless `force`), refuses a source that fails
    integrity_check, and copies the current file aside first, so a restore loses nothing.
    """
    if source.resolve() == db_path.resolve():
        raise StoreError(f"{source} is the database itself: restore from a backup copy")
    problems = sqlite_integrity(source)
    if problems != ["ok"]:
        raise StoreError(f"refusing to restore {source}: integrity check failed: {'; '.join(problems[:5])}")
    worker = fresh_worker(db_path, now=now)
    if worker is not None and not force:
        raise StoreError(
            f"worker {worker} wrote a heartbeat within {int(HEARTBEAT_FRESH.total_seconds() // 60)} "
            "minutes: stop it first, or pass --force"
        )
    previous: Path | None = None
    if db_path.exists():
        previous = backup(
            db_path, default_backup_path(db_path, label="pre-restore", now=now, directory=backup_dir)
        )
    db_path.parent.mkdir(parents=True, exist_ok=True)
    # Through the backup API into the live file: it takes the write lock and keeps the WAL and
    # any open readers consistent, which overwriting the file's bytes would not.
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dest = sqlite3.connect(str(db_path), timeout=10)
    try:
        src.backup(dest)
    except sqlite3.Error as exc:
        raise StoreError(
            f"restoring {source} failed: {exc}; the previous database is at {previous}"
        ) from exc
    finally:
        dest.close()
        src.close()
    return RestoreReport(restored_from=source, previous_copy=previous)

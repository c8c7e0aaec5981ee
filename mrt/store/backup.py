"""Copies of the SQLite file taken with the online backup API, and restoring one; PostgreSQL
dumps through the operator's pg_dump.

The backup API copies a consistent snapshot page by page while the worker keeps writing (a plain
file copy of a WAL database can miss the last commits or tear a page). PostgreSQL is dumped by
`pg_dump --format=custom` when it is installed (pg_dump takes a consistent snapshot itself); the
URL's password reaches it only through PGPASSWORD, never its command line. Nothing backs up
PostgreSQL automatically before a migration: `before_migration()` says so.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

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


# --- PostgreSQL ---------------------------------------------------------------------------------

PG_DUMP_MISSING = (
    "pg_dump is not installed here (not on PATH): install the PostgreSQL client tools "
    "(Debian/Ubuntu: apt install postgresql-client; its major version must be at least the "
    "server's) and run `mrt db backup` again, or dump the database with your own tools, e.g. "
    "PGPASSWORD=... pg_dump --format=custom --file=mrt.dump --dbname=postgresql://USER@HOST/DB"
)
PG_DUMP_TIMEOUT = 6 * 3600.0


def split_password(url: str) -> tuple[str, str | None]:
    """A postgresql:// URL without its password (in the user part or as ?password=), and the
    password, decoded. The URL left may go on a command line; the password may not."""
    parts = urlsplit(url)
    password = unquote(parts.password) if parts.password is not None else None
    netloc = parts.netloc.rpartition("@")[2]
    if parts.username is not None:
        netloc = f"{parts.username}@{netloc}"  # still quoted as in the URL
    query = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "password":
            password = password or value
        else:
            query.append((key, value))
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query))), password


def pg_dump_program(env: Mapping[str, str] | None = None) -> str | None:
    path = (env if env is not None else os.environ).get("PATH")
    return shutil.which("pg_dump", path=path)


def pg_backup_path(url: str, *, now: datetime, directory: Path) -> Path:
    """`<database>.backup-<UTC stamp>.dump` in `directory`."""
    name = urlsplit(url).path.lstrip("/") or "mrt"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the backup directory {directory}: {exc.strerror}") from exc
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in unquote(name))[:60]
    return _free_name(directory, f"{safe}.backup-{_stamp(now)}", ".dump")


def pg_dump(url: str, dest: Path, *, now: datetime, env: Mapping[str, str] | None = None) -> Path:
    """Dump the PostgreSQL database at `url` to `dest` (a new file, or a directory to put one
    in) in pg_dump's custom format (restore with pg_restore). Returns the file written."""
    program = pg_dump_program(env)
    if program is None:
        raise StoreError(PG_DUMP_MISSING, title="pg_dump not found")
    if dest.is_dir():
        dest = pg_backup_path(url, now=now, directory=dest)
    elif dest.exists():
        raise StoreError(f"{dest} already exists: choose a new file name or a directory")
    conninfo, password = split_password(url)
    child = dict(os.environ if env is None else env)
    if password:
        child["PGPASSWORD"] = password
    argv = [program, "--format=custom", f"--file={dest}", "--no-password", f"--dbname={conninfo}"]
    try:
        done = subprocess.run(
            argv, env=child, capture_output=True, text=True, timeout=PG_DUMP_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        dest.unlink(missing_ok=True)
        raise StoreError(f"pg_dump could not run: {exc}") from exc
    if done.returncode != 0:
        dest.unlink(missing_ok=True)
        said = done.stderr.strip() or done.stdout.strip() or "no message"
        if password:
            said = said.replace(password, "***")
        raise StoreError(f"pg_dump failed (exit {done.returncode}): {said}")
    return dest


def before_migration(*, postgres: bool, backup_dir: Path, env: Mapping[str, str] | None = None
                     ) -> tuple[bool, str]:
    """(fine, what happens to the data before a migration), truthfully per backend."""
    if not postgres:
        return True, (
            f"before a migration the worker and `mrt db migrate` copy the SQLite file into "
            f"{backup_dir} (state.backup_dir); `mrt db backup` copies it at any time"
        )
    program = pg_dump_program(env)
    if program is None:
        return False, (
            "PostgreSQL is not backed up automatically before a migration, and pg_dump is not "
            "installed here: install the PostgreSQL client tools (postgresql-client) so "
            "`mrt db backup` can dump it, or back it up with your own tools before upgrading"
        )
    return True, (
        "PostgreSQL is not backed up automatically before a migration: run `mrt db backup` "
        f"first (it runs {program} --format=custom)"
    )

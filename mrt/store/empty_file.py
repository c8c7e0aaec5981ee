"""A zero-length database file: truncated by accident, or emptied on purpose?

SQLite treats an empty file as a new database, so the worker would create the schema and every
source would record a baseline again: the news between the last cursor and now would never be
sent. When backups of that database exist (the automatic pre-migration copies, `mrt db backup`)
and one of them holds a source's cursor, the empty file is almost certainly an accident: the
worker refuses to start and says which backup to restore. Without such a backup it starts afresh,
but says so loudly. Either way, deleting the empty file is the deliberate way to start afresh.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

SQLITE_HEADER = b"SQLite format 3\x00"


@dataclass(frozen=True, slots=True)
class EmptyDatabase:
    path: Path
    backup: Path | None  # the newest backup that holds source cursors
    cursors: int  # how many sources have a cursor in it

    @property
    def refuse(self) -> bool:
        return self.backup is not None

    def message(self) -> str:
        if self.backup is None:
            return (
                f"the database file {self.path} is empty (0 bytes): it is treated as a new "
                "database and every source records a baseline again (no backup of it holds a "
                "cursor); if it was truncated by accident, stop the worker and restore a copy "
                "with `mrt db restore FILE`"
            )
        return (
            f"the database file {self.path} is empty (0 bytes), but the backup {self.backup} "
            f"holds the cursors of {self.cursors} sources: it was probably truncated. Restore "
            f"it with `mrt db restore {self.backup}` (or delete the empty file to start afresh "
            "on purpose: every source then records a baseline again)"
        )


def is_empty_file(path: Path) -> bool:
    try:
        return path.is_file() and path.stat().st_size == 0 and not _has_wal(path)
    except OSError:
        return False


def _has_wal(path: Path) -> bool:
    wal = path.with_name(path.name + "-wal")
    return wal.is_file() and wal.stat().st_size > 0


def backups_of(path: Path, backup_dir: Path | None = None) -> list[Path]:
    """Copies of `path` the way store/backup.py names them (`<stem>.<label>...<suffix>`),
    beside it and in `backup_dir`, newest first."""
    suffix = path.suffix or ".sqlite3"
    found: dict[Path, float] = {}
    for directory in {path.parent, *([backup_dir] if backup_dir else [])}:
        try:
            candidates = list(directory.glob(f"{path.stem}.*{suffix}"))
        except OSError:
            continue
        for candidate in candidates:
            try:
                if candidate.resolve() != path.resolve() and candidate.is_file():
                    found[candidate] = candidate.stat().st_mtime
            except OSError:
                continue
    return sorted(found, key=lambda p: found[p], reverse=True)


def cursors_in(path: Path) -> int:
    """How many sources have a cursor in the SQLite file at `path` (0 if it is none of ours)."""
    try:
        with path.open("rb") as f:
            if f.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
                return 0
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except (OSError, sqlite3.Error):
        return 0
    try:
        row = conn.execute("SELECT count(*) FROM source_state WHERE cursor IS NOT NULL").fetchone()
        return int(row[0])
    except sqlite3.Error:
        return 0
    finally:
        conn.close()


def inspect_empty(path: Path, backup_dir: Path | None = None) -> EmptyDatabase | None:
    """None when `path` is not an empty file; else what the worker and `mrt check` say."""
    if not is_empty_file(path):
        return None
    for candidate in backups_of(path, backup_dir):
        cursors = cursors_in(candidate)
        if cursors:
            return EmptyDatabase(path, candidate, cursors)
    return EmptyDatabase(path, None, 0)

"""Resetting a source's cursor: back up first, then move it, clear validators, audit it.

The TUI's "reset cursor" modal and `mrt cursor reset` call the same `reset_cursor`, which
audits it as "cursor.reset".

The cursor is each plugin's own JSON, and each plugin says what a cursor "from this date" is:
a source module may define `cursor_since(when) -> dict` (the built-ins do: GitHub's `since`,
Hugging Face's and ModelScope's `last_modified_after`). The reset stores that, plus
`{"reset_to": ISO}` always, which a plugin without `cursor_since` may read as it chooses.
"baseline" sets the cursor to NULL: the next poll records a silent baseline, as on a new source.
The validators (ETag/Last-Modified) are cleared either way, or the next poll would be a 304 and see
nothing of the range the operator asked for.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import peewee

from mrt.errors import StoreError
from mrt.plugins import source_plugins
from mrt.store import audit, sources
from mrt.store.backup import backup
from mrt.store.db import is_sqlite, write_transaction

ResetTarget = datetime | Literal["baseline"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ResetReport:
    source_key: str
    backup_path: Path | None  # None on PostgreSQL (back it up with pg_dump)
    old_cursor: dict[str, Any] | None
    new_cursor: dict[str, Any] | None


def cursor_at(plugin: str, to: ResetTarget) -> dict[str, Any] | None:
    """The cursor a plugin reads as "start from `to`" (None: baseline)."""
    if to == "baseline":
        return None
    assert isinstance(to, datetime)
    when = to.astimezone(UTC).isoformat().replace("+00:00", "Z")
    cursor: dict[str, Any] = {"reset_to": when}
    since = getattr(source_plugins().get(plugin), "cursor_since", None)
    if callable(since):
        chosen = since(to)
        if isinstance(chosen, dict):
            cursor.update(chosen)
    return cursor


def parse_reset_target(text: str) -> ResetTarget:
    """ "baseline", a date (YYYY-MM-DD, midnight UTC) or an ISO datetime (naive means UTC)."""
    value = text.strip()
    if value.lower() == "baseline":
        return "baseline"
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise StoreError(
            f"--to {text!r}: expected 'baseline', a date (2026-11-01) or a datetime "
            "(2026-11-01T08:00:00Z)",
            title="Bad cursor target",
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def backup_destination(
    db: peewee.Database, key: str, now: datetime, backup_dir: Path | None
) -> Path:
    """Where the pre-reset backup goes: `backup_dir`, or `backups/` next to the database; a
    free name (a second reset in the same second gets `-2`), never an existing file."""
    database_file = Path(str(db.database))
    folder = backup_dir if backup_dir is not None else database_file.parent / "backups"
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", key)
    stem = f"{database_file.stem}-before-cursor-reset-{slug}-{now:%Y%m%dT%H%M%SZ}"
    dest = folder / f"{stem}.sqlite3"
    n = 1
    while dest.exists():
        n += 1
        dest = folder / f"{stem}-{n}.sqlite3"
    return dest


def reset_cursor(
    db: peewee.Database,
    key: str,
    to: ResetTarget,
    *,
    now: datetime,
    actor: str,
    backup_dir: Path | None = None,
    reason: str | None = None,
) -> ResetReport:
    """Back up the database, then set `key`'s cursor to `to` (a datetime or "baseline")."""
    state = sources.find_state(key)
    if state is None:
        raise StoreError(
            f"no source {key!r} in the database (a source appears after the worker's first poll)",
            title="Unknown source",
        )
    backup_path: Path | None = None
    if is_sqlite(db):
        dest = backup_destination(db, key, now, backup_dir)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            # SQLite's online backup API: a consistent copy while the worker writes.
            backup_path = backup(Path(str(db.database)), dest)
        except (OSError, StoreError) as exc:
            raise StoreError(
                f"backup before the cursor reset failed, cursor unchanged: {exc}",
                title="Backup failed",
            ) from exc
    new_cursor = cursor_at(str(state.source), to)
    with write_transaction(db):
        old_cursor = sources.set_cursor(key, new_cursor, now)
        audit.record(
            actor,
            "cursor.reset",
            {"source_key": key, "to": "baseline" if to == "baseline" else str(to)},
            reason=reason,
            result={
                "old_cursor": old_cursor,
                "new_cursor": new_cursor,
                "backup_path": str(backup_path) if backup_path else None,
            },
            now=now,
        )
    log.info(
        "cursor reset by %s to %s (backup: %s)",
        actor,
        "baseline" if new_cursor is None else new_cursor["reset_to"],
        backup_path or "none",
        extra={"source_key": key},
    )
    return ResetReport(key, backup_path, old_cursor, new_cursor)

"""The operator's database care: migrate, backup, restore, prune (`mrt db ...`), each audited
here ("db.migrate" when something changed, "db.backup", "db.restore", "db.prune" unless a dry
run). The integrity check and `mrt db path` only read, so they are not audited."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import peewee

from mrt.store import audit
from mrt.store.backup import RestoreReport, backup, pg_dump, restore
from mrt.store.db import describe_target, open_store
from mrt.store.maintenance import PruneCounts, prune
from mrt.store.migrations import MigrationReport, migrate

__all__ = [
    "backup_database",
    "backup_postgres",
    "migrate_database",
    "prune_database",
    "restore_database",
]


def migrate_database(
    db: peewee.Database, *, target: str, now: datetime, actor: str, backup_dir: Path | None
) -> MigrationReport:
    """Bring the schema up to date (a backup is taken first when there is something to do)."""
    report = migrate(db, backup_dir=backup_dir, now=now)
    if report.changed:
        audit.record(
            actor,
            "db.migrate",
            {"database": describe_target(target)},
            result={
                "from_version": report.from_version,
                "to_version": report.to_version,
                "steps": report.steps,
                "backup_path": str(report.backup_path) if report.backup_path else None,
                "upgraded_v0": report.upgraded_v0,
            },
            now=now,
        )
    return report


def backup_database(
    path: Path,
    dest: Path,
    *,
    now: datetime,
    actor: str,
    backup_dir: Path | None,
    busy_timeout_ms: int,
) -> Path:
    """A consistent copy of the SQLite file at `path` (safe while the worker writes); the
    record of it goes into the database copied. Returns the file written."""
    written = backup(path, dest)
    db = open_store(path, backup_dir=backup_dir, now=now, busy_timeout_ms=busy_timeout_ms)
    try:
        audit.record(actor, "db.backup", {"dest": str(written)}, now=now)
    finally:
        db.close()
    return written


def backup_postgres(url: str, dest: Path, *, now: datetime, actor: str) -> Path:
    """pg_dump of the PostgreSQL database at `url` into `dest`; recorded in that database
    (as "db.backup", like an SQLite copy). Returns the file written."""
    written = pg_dump(url, dest, now=now)
    db = open_store(url, now=now)
    try:
        audit.record(actor, "db.backup", {"dest": str(written), "tool": "pg_dump"}, now=now)
    finally:
        db.close()
    return written


def restore_database(
    path: Path,
    source: Path,
    *,
    now: datetime,
    actor: str,
    force: bool,
    backup_dir: Path | None,
    busy_timeout_ms: int,
) -> RestoreReport:
    """Replace the database at `path` with `source` (the old file is kept aside); the record
    of it goes into the restored database."""
    report = restore(path, source, now=now, force=force, backup_dir=backup_dir)
    db = open_store(path, backup_dir=backup_dir, now=now, busy_timeout_ms=busy_timeout_ms)
    try:
        audit.record(
            actor,
            "db.restore",
            {"source": str(source), "force": bool(force)},
            result={"previous_copy": str(report.previous_copy) if report.previous_copy else None},
            now=now,
        )
    finally:
        db.close()
    return report


def prune_database(
    db: peewee.Database,
    *,
    now: datetime,
    actor: str,
    event_days: int,
    alert_days: int,
    dry_run: bool,
) -> PruneCounts:
    """Delete history past its retention (or count it, on a dry run, which is not audited)."""
    counts = prune(db, now=now, event_days=event_days, alert_days=alert_days, dry_run=dry_run)
    if not dry_run:
        audit.record(actor, "db.prune", {"event_days": event_days, "alert_days": alert_days},
                     result=counts.as_dict(), now=now)
    return counts

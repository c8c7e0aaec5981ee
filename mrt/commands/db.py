"""`mrt db path|migrate|backup|restore|check|prune`: looking after the database.

`backup` copies an SQLite file with its online backup API, or runs pg_dump on PostgreSQL.

The database is the one the config names (`state.url` or `state.sqlite_path`, else the user data
directory); `--db PATH_OR_URL` overrides it, which scripts find handy. Every action that writes
is a call into mrt.ops.backup, which records it in the audit log (actor "cli").
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import peewee

import mrt.config
from mrt.commands._output import add_json_option, emit, refuse_question, wants_json
from mrt.errors import ConfigError, StoreError
from mrt.events import utcnow
from mrt.ops import backup as db_ops
from mrt.store.backup import configured_backup_dir, default_backup_path, pg_backup_path
from mrt.store.db import (
    DEFAULT_BUSY_TIMEOUT_MS,
    describe_target,
    is_postgres_url,
    open_database,
    open_store,
)
from mrt.store.maintenance import integrity_check
from mrt.store.migrations import LATEST, schema_version

ACTOR = "cli"
DEFAULT_EVENT_DAYS = 90
DEFAULT_ALERT_DAYS = 365


def _config(args: argparse.Namespace) -> Any | None:
    """The loaded config, or None when this build has no loader yet and --db was given."""
    load = getattr(mrt.config, "load_config", None)
    if load is None:
        if args.db is None:
            raise ConfigError("this build cannot read a config yet: pass --db PATH_OR_URL")
        return None
    return load(args.config)


def _target(args: argparse.Namespace, config: Any | None) -> str:
    if args.db is not None:
        return str(args.db)
    resolve = getattr(mrt.config, "database_target", None)
    if config is None or resolve is None:
        raise ConfigError("cannot tell which database to use: pass --db PATH_OR_URL")
    return str(resolve(config))


def _backup_dir(config: Any | None) -> Path | None:
    return configured_backup_dir(getattr(getattr(config, "state", None), "backup_dir", None))


def _busy(config: Any | None) -> int:
    """state.busy_timeout_ms (with --db the config is not read: the default)."""
    state = getattr(config, "state", None)
    return int(getattr(state, "busy_timeout_ms", DEFAULT_BUSY_TIMEOUT_MS))


def _sqlite_only(target: str, what: str) -> Path:
    if is_postgres_url(target):
        raise StoreError(
            f"`mrt db {what}` works on SQLite files; for PostgreSQL use pg_restore (with a "
            "dump from `mrt db backup`)"
        )
    return Path(target).expanduser()


def _resolve(args: argparse.Namespace) -> tuple[str, Any | None]:
    config = None if args.db is not None else _config(args)
    return _target(args, config), config


def cmd_path(args: argparse.Namespace) -> int:
    target, _ = _resolve(args)
    if wants_json(args):
        emit({"database": describe_target(target)})
        return 0
    print(describe_target(target))
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    target, config = _resolve(args)
    now = utcnow()
    db = open_database(target, busy_timeout_ms=_busy(config))
    try:
        report = db_ops.migrate_database(
            db, target=target, now=now, actor=ACTOR, backup_dir=_backup_dir(config)
        )
    finally:
        db.close()
    if wants_json(args):
        emit({"database": describe_target(target), "changed": report.changed,
              "from_version": report.from_version, "to_version": report.to_version,
              "steps": [str(s) for s in report.steps], "upgraded_v0": report.upgraded_v0,
              "backup": report.backup_path})
        return 0
    if not report.changed:
        print(f"{describe_target(target)}: already at schema version {report.to_version}")
        return 0
    print(f"{describe_target(target)}: schema version {report.from_version} -> {report.to_version}")
    for step in report.steps:
        print(f"  applied {step}")
    if report.upgraded_v0:
        print("  upgraded the v0 state in place (cursors, seen events, alerts, failures kept)")
    if report.backup_path:
        print(f"  backup taken first: {report.backup_path}")
    return 0


def _backup_postgres(args: argparse.Namespace, target: str, config: Any | None) -> int:
    """pg_dump in its custom format, into DEST, else state.backup_dir, else here."""
    now = utcnow()
    directory = _backup_dir(config) or Path.cwd()
    dest = Path(args.dest).expanduser() if args.dest else pg_backup_path(
        target, now=now, directory=directory
    )
    written = db_ops.backup_postgres(target, dest, now=now, actor=ACTOR)
    print(written)
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    target, config = _resolve(args)
    if is_postgres_url(target):
        return _backup_postgres(args, target, config)
    path = _sqlite_only(target, "backup")
    now = utcnow()
    dest = (
        Path(args.dest).expanduser()
        if args.dest
        else default_backup_path(path, label="backup", now=now, directory=_backup_dir(config))
    )
    where = dest if dest.is_dir() else dest.parent
    if not os.access(where, os.W_OK | os.X_OK):
        raise StoreError(
            f"cannot write the backup of {path} into {where}: that directory is read-only; "
            "give a writable DEST (`mrt db backup DEST`) or set state.backup_dir"
        )
    written = db_ops.backup_database(
        path, dest, now=now, actor=ACTOR, backup_dir=_backup_dir(config),
        busy_timeout_ms=_busy(config),
    )
    if wants_json(args):
        emit({"backup": written})
    else:
        print(written)
    return 0


def _confirmed(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    answer = input(f"{question} [y/N] ").strip().lower()
    return answer in ("y", "yes")


def cmd_restore(args: argparse.Namespace) -> int:
    target, config = _resolve(args)
    path = _sqlite_only(target, "restore")
    source = Path(args.file).expanduser()
    refuse_question(args)
    if not args.yes and not _confirmed(f"Replace {path} with {source}?"):
        print(
            "mrt: not restoring: confirm at the prompt, or pass --yes in scripts",
            file=sys.stderr,
        )
        return 1
    now = utcnow()
    report = db_ops.restore_database(
        path, source, now=now, actor=ACTOR, force=args.force, backup_dir=_backup_dir(config),
        busy_timeout_ms=_busy(config),
    )
    if wants_json(args):
        emit({"database": path, "restored_from": source, "previous_copy": report.previous_copy})
        return 0
    print(f"restored {path} from {source}")
    if report.previous_copy:
        print(f"the database as it was is kept at {report.previous_copy}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    target, _ = _resolve(args)
    if not is_postgres_url(target) and not Path(target).expanduser().exists():
        raise StoreError(f"no database at {target} yet: start mrt-worker or run `mrt db migrate`")
    db = open_database(target, read_only=True)
    try:
        problems = integrity_check(db)
        version = schema_version(db)
    except peewee.DatabaseError as exc:
        raise StoreError(f"{describe_target(target)} cannot be read as a database: {exc}") from exc
    finally:
        db.close()
    ok = problems == ["ok"] and version == LATEST
    if wants_json(args):
        emit({"database": describe_target(target), "schema_version": version,
              "expected_version": LATEST, "integrity": problems, "ok": ok})
        return 0 if ok else 1
    print(f"{describe_target(target)}: schema version {version} (this MRT: {LATEST})")
    for line in problems:
        print(f"  {line}")
    if version < LATEST and is_postgres_url(target):
        print("  needs migrating: take a backup first (`mrt db backup` runs pg_dump; nothing "
              "backs PostgreSQL up automatically), then run `mrt db migrate`")
    elif version < LATEST:
        print("  needs migrating: run `mrt db migrate` (a backup is taken first)")
    return 0 if problems == ["ok"] and version == LATEST else 1


def cmd_prune(args: argparse.Namespace) -> int:
    target, config = _resolve(args)
    observability = getattr(config, "observability", None)
    event_days = args.events_days or getattr(
        observability, "retention_days_events", DEFAULT_EVENT_DAYS
    )
    alert_days = args.alerts_days or getattr(
        observability, "retention_days_alerts", DEFAULT_ALERT_DAYS
    )
    now = utcnow()
    db = open_store(
        target, backup_dir=_backup_dir(config), now=now, busy_timeout_ms=_busy(config)
    )
    try:
        counts = db_ops.prune_database(
            db, now=now, actor=ACTOR, event_days=event_days, alert_days=alert_days,
            dry_run=args.dry_run,
        )
    finally:
        db.close()
    if wants_json(args):
        emit({"dry_run": args.dry_run, "events": counts.events,
              "delivery_attempts": counts.delivery_attempts, "cycle_metrics": counts.cycle_metrics,
              "event_days": event_days, "alert_days": alert_days})
        return 0
    verb = "would delete" if args.dry_run else "deleted"
    print(
        f"{verb} {counts.events} events, {counts.delivery_attempts} delivery attempts and "
        f"{counts.cycle_metrics} cycle metrics older than {event_days} days "
        f"(events of alerts younger than {alert_days} days are kept), and {counts.alerts} "
        f"alerts older than {alert_days} days (queued deliveries and dead letters keep theirs)"
    )
    return 0


def _days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of days >= 1, got {text!r}")
    return value


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    db_opts = argparse.ArgumentParser(add_help=False, parents=[common])
    db_opts.add_argument(
        "--db", metavar="PATH_OR_URL", help="the database to use instead of the config's"
    )
    parser = subparsers.add_parser(
        "db", help="look after the database: migrate, backup, restore, check, prune"
    )
    sub = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)

    p = sub.add_parser("path", parents=[db_opts], help="print the database in use")
    add_json_option(p)
    p.set_defaults(func=cmd_path)

    p = sub.add_parser(
        "migrate", parents=[db_opts], help="bring the schema up to date (backs up first)"
    )
    add_json_option(p)
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser(
        "backup", parents=[db_opts],
        help="copy the SQLite database (safely while the worker runs), or pg_dump PostgreSQL",
    )
    p.add_argument("dest", nargs="?", metavar="DEST", help="a new file or a directory")
    add_json_option(p)
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", parents=[db_opts], help="replace the database with a backup")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--force", action="store_true", help="even if a worker looks alive")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    add_json_option(p)
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("check", parents=[db_opts], help="integrity check and schema version")
    add_json_option(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser(
        "prune", parents=[db_opts], help="delete events, attempts and metrics past retention"
    )
    p.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    p.add_argument("--events-days", type=_days, default=None, metavar="N")
    p.add_argument("--alerts-days", type=_days, default=None, metavar="N")
    add_json_option(p)
    p.set_defaults(func=cmd_prune)

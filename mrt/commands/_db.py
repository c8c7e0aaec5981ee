"""Opening the database from a command: `--db PATH` or the config's state section.

Shared by the operator commands. `--db` always works; without it the config is loaded with
`mrt.config.load_config` and the database is its `database_target`, the one resolution of
`state` that the worker and the console use too.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import peewee

from mrt.config import Config, database_target, load_config
from mrt.errors import StoreError
from mrt.store.db import DEFAULT_BUSY_TIMEOUT_MS, open_database
from mrt.store.migrations import LATEST, schema_version


def add_db_option(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    # SUPPRESS on nested parsers: a sub-subcommand must not reset a value given before it.
    parser.add_argument(
        "--db",
        metavar="PATH",
        default=argparse.SUPPRESS if suppress else None,
        help="database file or postgresql:// URL (default: the config's state section)",
    )


def leaf_options() -> argparse.ArgumentParser:
    """--config/--log-format/--log-level/--db for a nested subcommand, without defaults that would
    overwrite what the user gave at the outer level (argparse copies sub-namespace defaults)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--config", "-c", metavar="FILE", default=argparse.SUPPRESS)
    parent.add_argument("--log-format", choices=("text", "json"), default=argparse.SUPPRESS)
    parent.add_argument(
        "--log-level", choices=("debug", "info", "warning", "error"), default=argparse.SUPPRESS
    )
    add_db_option(parent, suppress=True)
    return parent


def command_config(args: argparse.Namespace) -> Config | None:
    """The config behind a command's database, or None when `--db` names the database (the
    config is not read then, so a broken one never blocks `--db`)."""
    if getattr(args, "db", None):
        return None
    return load_config(getattr(args, "config", None))


def database_target_for(args: argparse.Namespace, config: Config | None = None) -> str:
    db = getattr(args, "db", None)
    if db:
        return str(db)
    config = config or command_config(args)
    assert config is not None  # no --db: command_config loaded it
    return database_target(config)


def open_for_command(
    args: argparse.Namespace, *, read_only: bool, config: Config | None = None
) -> peewee.Database:
    """Open the database a command works on; it must exist and be migrated to this version.

    `config` is the command_config(args) a caller already holds; its state.busy_timeout_ms
    applies (with `--db` alone, the default).
    """
    config = config or command_config(args)
    target = database_target_for(args, config)
    if "://" not in target and not Path(target).expanduser().is_file():
        raise StoreError(f"there is no database at {target}: check --db or the config's state section")
    busy = config.state.busy_timeout_ms if config else DEFAULT_BUSY_TIMEOUT_MS
    db = open_database(target, read_only=read_only, busy_timeout_ms=busy)
    version = schema_version(db)
    if version != LATEST:
        db.close()
        raise StoreError(
            f"the database {target} is at schema version {version} and this mrt expects "
            f"{LATEST}: start the worker (it migrates at start) or use the matching mrt"
        )
    return db

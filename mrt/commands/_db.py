"""Opening the database from a command: `--db PATH` or the config's state section.

Shared by the operator commands. `--db` always works; without it the config is loaded with
`mrt.config.load_config` and its `database_target` (the config engineer's functions, used when
this build has them).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import peewee

from mrt import config as config_module
from mrt.errors import ConfigError, StoreError
from mrt.store.db import open_database
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
    """--config/--log-format/--db for a nested subcommand, without defaults that would
    overwrite what the user gave at the outer level (argparse copies sub-namespace defaults)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--config", "-c", metavar="FILE", default=argparse.SUPPRESS)
    parent.add_argument("--log-format", choices=("text", "json"), default=argparse.SUPPRESS)
    add_db_option(parent, suppress=True)
    return parent


def database_target_for(args: argparse.Namespace) -> str:
    db = getattr(args, "db", None)
    if db:
        return str(db)
    load_config = getattr(config_module, "load_config", None)
    database_target = getattr(config_module, "database_target", None)
    if load_config is None or database_target is None:
        raise ConfigError(
            "no database given: pass --db PATH (this build cannot read the database location "
            "from the config yet)"
        )
    return str(database_target(load_config(getattr(args, "config", None))))


def open_for_command(args: argparse.Namespace, *, read_only: bool) -> peewee.Database:
    """Open the database a command works on; it must exist and be migrated to this version."""
    target = database_target_for(args)
    if "://" not in target and not Path(target).expanduser().is_file():
        raise StoreError(f"there is no database at {target}: check --db or the config's state section")
    db = open_database(target, read_only=read_only)
    version = schema_version(db)
    if version != LATEST:
        db.close()
        raise StoreError(
            f"the database {target} is at schema version {version} and this mrt expects "
            f"{LATEST}: start the worker (it migrates at start) or use the matching mrt"
        )
    return db

"""`mrt-tui`: the console's entry point. Arguments, where the database is, then the app.

`mrt-tui --config FILE` finds the database as `mrt` does (mrt.config.database_target); with
`--db` the config is read later, when a screen first needs it (MrtConsole.settings), so start-up
loads only what the first screen shows.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from mrt.errors import ConfigError, MrtError
from mrt.store.db import DEFAULT_BUSY_TIMEOUT_MS
from tui.app import MrtConsole, Settings, make_app
from tui.screens.no_database import not_a_database

if TYPE_CHECKING:
    from mrt.config import Config


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mrt-tui", description="The MRT operator console: alerts, deliveries, sources."
    )
    parser.add_argument("--config", "-c", metavar="FILE", help="config file (finds the database)")
    parser.add_argument("--db", metavar="PATH", help="database file or postgresql:// URL")
    parser.add_argument(
        "--screen",
        choices=tuple(MrtConsole.MODES),
        default="alerts",
        help="the screen to open on (default: alerts)",
    )
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="watch only: the connection refuses writes (SQLite query_only)",
    )
    add_serve_options(parser)
    return parser


def port_number(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 1 to 65535, found {text!r}")
    return int(text)


def add_serve_options(parser: argparse.ArgumentParser) -> None:
    web = parser.add_argument_group("in a browser (tui/serve.py)")
    web.add_argument("--serve", action="store_true",
                     help="serve the console over HTTP (textual-serve) instead of this terminal")
    web.add_argument("--host", default="127.0.0.1",
                     help="address to listen on (default: 127.0.0.1; another needs --token-env)")
    web.add_argument("--port", type=port_number, default=8000,
                     help="port to listen on (default: 8000)")
    web.add_argument("--token-env", metavar="VAR",
                     help="the environment variable holding the token the browser must give")
    web.add_argument("--read-write", action="store_true",
                     help="let the served console act (retry, ack ...); it is read-only otherwise")


@dataclass(frozen=True)
class Target:
    database: str
    backup_dir: Path | None = None
    config: Config | None = None
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS  # with --db the config is read later: default
    config_error: str | None = None  # why there is no config (replay says so)


def database_target(args: argparse.Namespace) -> Target:
    """--db wins; otherwise the config's database (found as `mrt` finds it). A config that
    fails to load is fatal without --db, and only disables replay with it."""
    from mrt.config import database_target as mrt_database_target
    from mrt.config import load_config
    from mrt.store.backup import configured_backup_dir

    try:
        config = load_config(args.config)
    except MrtError as exc:
        if not args.db:
            raise
        return Target(str(args.db), config_error=f"the config did not load: {exc}")
    backup_dir = configured_backup_dir(config.state.backup_dir)
    database = str(args.db) if args.db else mrt_database_target(config)
    return Target(database, backup_dir, config, busy_timeout_ms=config.state.busy_timeout_ms)


def config_settings(args: argparse.Namespace) -> Settings:
    """With --db: the config's part, read by `MrtConsole.settings()` when first needed."""
    target = database_target(args)
    return Settings(target.config, target.config_error, target.backup_dir)


def not_mrt_file(database: str) -> str | None:
    """A file that exists but is not an SQLite database (an empty one included) is refused
    before the console starts: it is said, and the file is never opened by SQLite."""
    path = Path(database).expanduser()
    if "://" in database or not path.is_file():
        return None  # a URL, or no file yet: the console says what to do
    why = not_a_database(path)
    if why is None:
        return None
    return (
        f"{path} is not an MRT database: {why}. Nothing was written to it. Give --db the "
        "database mrt-worker writes (or --config FILE to find it)"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.serve and (args.read_write or args.token_env):
        parser.error("--read-write and --token-env go with --serve")
    if args.read_write and args.read_only:
        parser.error("--read-only and --read-write contradict each other")
    read_config: Callable[[], Settings] | None = None
    if args.db:
        # The database is named, so the config (rules, channels, backup_dir) is read when
        # first needed, off the start-up path; a bad one disables replay and rules, as before.
        target, read_config = Target(str(args.db)), partial(config_settings, args)
    else:
        try:  # the config names the database: it must load before anything is shown
            target = database_target(args)
        except MrtError as exc:  # a bad config is a message, never a traceback
            print(f"mrt-tui: {exc}", file=sys.stderr)
            sys.exit(2 if isinstance(exc, ConfigError) else 1)
    refusal = not_mrt_file(target.database)
    if refusal:
        print(f"mrt-tui: {refusal}", file=sys.stderr)
        sys.exit(1)
    if args.serve:  # the config and the database are checked above, before anything listens
        from tui.serve import serve

        sys.exit(serve(args))
    app = make_app(
        target.database,
        read_only=args.read_only,
        config_path=args.config,
        initial_mode=args.screen,
        backup_dir=target.backup_dir,
        busy_timeout_ms=target.busy_timeout_ms,
        config=target.config,
        config_error=target.config_error,
        read_config=read_config,
    )
    app.run()
    sys.exit(app.return_code or 0)

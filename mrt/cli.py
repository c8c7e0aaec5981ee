"""The `mrt` command: one subcommand module per theme under mrt/commands/.

Each module in mrt/commands exposes `register(subparsers, common)`; `common` is a parent parser
carrying the options every command takes (--config, --log-format, --log-level). A command's
handler returns the exit code. MrtError never reaches the user as a traceback: ConfigError exits
2, others 1.

Logs go to stderr, never mixed into what a command prints. Given --log-format or --log-level,
every command logs in that format (JSON lines or text) from that level (default: warnings);
without either, Python's plain warnings as before.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sqlite3
import sys
from collections.abc import Sequence

import peewee

from mrt import __version__, commands
from mrt.commands._output import emit, error_document, wants_json
from mrt.errors import ConfigError, MrtError
from mrt.inert import inert_text
from mrt.logs import configure_logging
from mrt.store.db_errors import bound_target, explain

LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")


def common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        "-c",
        metavar="FILE",
        help="config file (JSON or TOML); default: $MRT_CONFIG, then the user config directory",
    )
    common.add_argument(
        "--log-format", choices=LOG_FORMATS, default=None, help="log lines on stderr: text or json"
    )
    common.add_argument(
        "--log-level", choices=LOG_LEVELS, default=None, help="log from this level (default: warning)"
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mrt",
        description="Model Release Tracker: watch upstream, alert once, never lose the news.",
    )
    parser.add_argument("--version", action="version", version=f"mrt {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = common_options()
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue  # helpers shared by commands (mrt/commands/_db.py), not commands
        module = importlib.import_module(f"mrt.commands.{info.name}")
        module.register(sub, common)
    return parser


def _log_secrets(args: argparse.Namespace) -> list[str]:
    """What log lines must never show: the value of every variable the config names, as the
    worker scrubs them. A config that does not load names none (the command says why)."""
    from mrt.config import load_config, secret_values

    try:
        return secret_values(load_config(getattr(args, "config", None)), os.environ)
    except MrtError:
        return []


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    log_format, log_level = getattr(args, "log_format", None), getattr(args, "log_level", None)
    if log_format or log_level:
        configure_logging(log_format or "text", log_level or "warning", secrets=_log_secrets(args))
    try:
        code: int = args.func(args)
        return code
    except ConfigError as exc:
        return failed(args, exc, exc.title, 2, f"mrt: {error_text(exc)}")
    except MrtError as exc:
        return failed(args, exc, exc.title, 1, f"mrt: {exc.title.lower()}: {error_text(exc)}")
    except (peewee.PeeweeException, sqlite3.Error) as exc:  # locked, read-only, full disk ...
        why = explain(exc, bound_target())
        return failed(args, why, "Database error", 1, f"mrt: database error: {error_text(why)}")
    except KeyboardInterrupt:
        return 130


def failed(args: argparse.Namespace, exc: BaseException | str, title: str, code: int, line: str) -> int:
    """An error ends the command: one line on stderr, or with --json the error document on
    stdout (docs/JSON.md: stdout always holds one JSON document)."""
    if wants_json(args):
        emit(error_document(exc, title=title, exit_code=code))
    else:
        print(line, file=sys.stderr)
    return code


def error_text(exc: BaseException | str) -> str:
    """An error as the terminal shows it: it may quote upstream text, so it is made inert."""
    return inert_text(exc, max_chars=4000, multiline=True)


def run(argv: Sequence[str] | None = None) -> None:
    """The `mrt` script and `python -m mrt`: main(), and a reader that stopped reading (`mrt
    outbox | head -4`) ends the command quietly with exit 0, as a finished listing would."""
    try:
        code = main(argv)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
    except BrokenPipeError:
        # Python flushes stdout again at exit: point it at /dev/null so that flush is silent.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        code = 0
    sys.exit(code)


if __name__ == "__main__":
    run()

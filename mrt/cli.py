"""The `mrt` command: one subcommand module per theme under mrt/commands/.

Each module in mrt/commands exposes `register(subparsers, common)`; `common` is a parent parser
carrying the options every command takes (--config, --log-format). A command's handler returns
the exit code. MrtError never reaches the user as a traceback: ConfigError exits 2, others 1.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from mrt import __version__, commands
from mrt.errors import ConfigError, MrtError
from mrt.inert import inert_text


def common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        "-c",
        metavar="FILE",
        help="config file (JSON or TOML); default: $MRT_CONFIG, then the user config directory",
    )
    common.add_argument("--log-format", choices=("text", "json"), default=None)
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code: int = args.func(args)
        return code
    except ConfigError as exc:
        print(f"mrt: {error_text(exc)}", file=sys.stderr)
        return 2
    except MrtError as exc:
        print(f"mrt: {exc.title.lower()}: {error_text(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def error_text(exc: BaseException) -> str:
    """An error as the terminal shows it: it may quote upstream text, so it is made inert."""
    return inert_text(exc, max_chars=4000, multiline=True)


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()

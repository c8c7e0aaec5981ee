"""Entry point of `mrt-worker` (and of v0's `python -m mrt --once|--daemon`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mrt import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mrt-worker", description="Poll, match, store, deliver.")
    parser.add_argument("--version", action="version", version=f"mrt-worker {__version__}")
    parser.add_argument("--config", "-c", metavar="FILE")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="one cycle of every source, drain, exit")
    mode.add_argument("--daemon", action="store_true", help="run until SIGTERM (the default)")
    parser.add_argument("--log-format", choices=("text", "json"), default=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    build_parser().parse_args(argv)
    print("mrt-worker: the engine is not wired yet", file=sys.stderr)
    return 1


def run() -> None:
    sys.exit(main())

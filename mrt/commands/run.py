"""`mrt run [--once]`: the worker, started from the CLI (DESIGN's `mrt run --once` for cron).

The core never imports the worker: the process is replaced by `python -m worker`, so exit codes
and signals are the worker's own.
"""

from __future__ import annotations

import argparse
import os
import sys


def worker_argv(args: argparse.Namespace) -> list[str]:
    argv = [sys.executable, "-m", "worker", "--once" if args.once else "--daemon"]
    if args.config:
        argv += ["--config", args.config]
    if args.log_format:
        argv += ["--log-format", args.log_format]
    if args.log_level:
        argv += ["--log-level", args.log_level]
    return argv


def run(args: argparse.Namespace) -> int:
    argv = worker_argv(args)
    os.execv(argv[0], argv)
    return 1  # not reached: execv replaces this process


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("run", parents=[common], help="run the worker (same as mrt-worker)")
    p.add_argument("--once", action="store_true", help="one cycle of every source, deliver, exit")
    p.set_defaults(func=run)

"""Entry point of `mrt-worker` (and of v0's `python -m mrt --config FILE --once|--daemon`).

Exit codes: 0 done (or stopped by a signal); 2 the config is wrong; 1 another fatal error;
3 (--once only) the cycle ran but at least one source's cycle failed, in whichever stage (poll,
planning, commit, the operators' notice): its line says so and its error is in `mrt sources`;
4 (--once only) every source ran, but a delivery this run tried ended retrying or dead: the
"deliveries:" line says how many (3 wins when both happen: a failed source is the bigger news).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sqlite3
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import peewee

from mrt import __version__
from mrt.config import secret_values
from mrt.errors import ConfigError, MrtError
from mrt.http import HttpPool
from mrt.inert import inert_text
from mrt.logs import configure_logging
from mrt.plugins import SourceBudgets
from mrt.store.db_errors import bound_target, explain
from worker.assembly import build_runtime
from worker.runtime import run_daemon, run_once

if TYPE_CHECKING:  # the sender is imported when the outbox is first sent
    from mrt.delivery.sender import SendReport

log = logging.getLogger("mrt.worker")

EXIT_SOURCE_FAILED = 3
EXIT_DELIVERIES_NEED_YOU = 4  # the same "something needs you" code as `mrt outbox` with dead rows


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mrt-worker", description="Poll, match, store, deliver.")
    parser.add_argument("--version", action="version", version=f"mrt-worker {__version__}")
    parser.add_argument(
        "--config", "-c", metavar="FILE",
        help="config file (JSON or TOML); default: $MRT_CONFIG, then the user config directory",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--once", action="store_true", help="one cycle of every source, deliver, exit"
    )
    mode.add_argument("--daemon", action="store_true", help="run until SIGTERM (the default)")
    parser.add_argument(
        "--log-format", choices=("text", "json"), default=None,
        help="log lines on stderr: text or json (default: the config's observability.log_format)",
    )
    parser.add_argument(
        "--log-level", choices=("debug", "info", "warning", "error"), default=None,
        help="log from this level (default: the config's observability.log_level)",
    )
    return parser


async def _main(args: argparse.Namespace) -> int:
    # each host's budget is read when first asked, from the source plugins the config loads:
    # no source plugin is imported before the config is read
    async with HttpPool(budgets=SourceBudgets()) as pool:
        rt = await build_runtime(args.config, pool=pool)
        obs = rt.config.observability
        configure_logging(
            args.log_format or obs.log_format,
            args.log_level or obs.log_level,
            secrets=secret_values(rt.config, os.environ),
        )
        rt.mode = worker_mode(once=args.once, env=os.environ)
        if args.once:
            reports = await run_once(rt)
            for r in reports:
                line = f"{r.source_key}: {r.outcome}, {r.new_events} new events, {r.alerts} alerts"
                print(line + (f" ({inert_text(r.error)})" if r.error else ""))
            line, undelivered = deliveries_line(rt.last_send)
            print(line)
            if any(r.outcome == "failed" for r in reports):
                return EXIT_SOURCE_FAILED
            return EXIT_DELIVERIES_NEED_YOU if undelivered else 0
        stop, reload_requested = asyncio.Event(), asyncio.Event()
        install_signal_handlers(stop, reload_requested)
        await run_daemon(rt, stop, reload_requested)
        return 0


def worker_mode(*, once: bool, env: Mapping[str, str]) -> str:
    """How this worker runs, for its heartbeat: "once" (`--once`, from cron or a timer),
    "service" (a daemon that systemd started: it sets INVOCATION_ID, and NOTIFY_SOCKET for
    Type=notify), or "daemon" (started by hand)."""
    if once:
        return "once"
    return "service" if env.get("INVOCATION_ID") or env.get("NOTIFY_SOCKET") else "daemon"


def deliveries_line(report: SendReport | None) -> tuple[str, bool]:
    """What the deliveries this --once run tried came to (each by its last attempt), and
    whether one of them ended retrying or dead."""
    final = {r.outbox_id: r.status for r in (report.results if report else [])}
    counts = {s: sum(1 for v in final.values() if v == s) for s in ("sent", "retrying", "dead")}
    if report is not None and report.claim_error:  # the database refused: what is due waits
        return (
            f"deliveries: NOT ALL DELIVERED: stopped early, the outbox could not be read "
            f"({inert_text(report.claim_error)}); {counts['sent']} sent",
            True,
        )
    if not final:
        return "deliveries: none due", False
    told = f"{counts['sent']} sent, {counts['retrying']} retrying, {counts['dead']} dead"
    if not counts["retrying"] and not counts["dead"]:
        return f"deliveries: {told}", False
    return (
        f"deliveries: NOT ALL DELIVERED: {told} (see `mrt outbox`; retrying ones go again at "
        "their next try, dead ones need `mrt outbox retry`)",
        True,
    )


def install_signal_handlers(stop: asyncio.Event, reload_requested: asyncio.Event) -> None:
    """SIGTERM/SIGINT stop the daemon gracefully; SIGHUP reloads its config."""
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reload_requested.set)


def freeze_imports() -> None:
    """Move what the imports built (modules, classes, pydantic's validators: some 45,000
    objects the collector tracks, alive as long as the process) out of the collector's
    generations, once per process: a full collection then no longer walks them (~15 ms each;
    the first one fell inside start-up, before the first request). They hold no garbage to
    find (a collection right after the imports finds a few dozen objects). Only for the
    program's own process: a caller's objects (a test session's) could later be garbage that
    a frozen generation never frees."""
    if not gc.get_freeze_count():
        gc.freeze()


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # the program (mrt-worker, python -m worker), not a caller in its process
        freeze_imports()
    args = build_parser().parse_args(argv)
    configure_logging(args.log_format or "text", args.log_level or "info")
    try:
        return asyncio.run(_main(args))
    except ConfigError as exc:
        print(f"mrt-worker: {inert_text(exc, max_chars=4000, multiline=True)}", file=sys.stderr)
        return 2
    except MrtError as exc:
        print(f"mrt-worker: {exc.title.lower()}: {inert_text(exc, max_chars=4000, multiline=True)}",
              file=sys.stderr)
        return 1
    except (peewee.PeeweeException, sqlite3.Error) as exc:  # --once on a locked database ...
        print(f"mrt-worker: database error: {explain(exc, bound_target())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def run() -> None:
    sys.exit(main())

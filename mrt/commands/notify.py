"""`mrt notify test [CHANNEL ...] [--all]`: send a clearly marked test message now.

Each target of each channel named (or of every channel with --all) gets one message through the
real path: an alert of kind "test", an outbox row per target, the channel's plugin, an attempt
recorded (`mrt trace ALERT_ID` shows it). Prints, per target, what the far side answered in its
own words (secrets removed). `mrt check --send-test` runs `--all` after a ready check.

Exit codes: 0 every target took the message, 1 one or more refused or could not be reached
(the test row is then dead: a test is not retried), 2 no channel named, an unknown channel, or
a config or secret problem.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from mrt.commands._db import add_db_option, database_target_for, leaf_options
from mrt.config import Config, load_config
from mrt.delivery.channels import resolve_targets
from mrt.errors import ConfigError
from mrt.events import utcnow
from mrt.inert import inert_text, terminal_json
from mrt.ops import backup as db_ops
from mrt.ops.notify import TestResult, send_test
from mrt.store.db import open_database

ACTOR = "cli"


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "notify", parents=[common], help="send a test message to channels",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_db_option(parser)
    actions = parser.add_subparsers(dest="notify_action", metavar="ACTION")
    test = actions.add_parser("test", parents=[leaf_options()], help="send a test message now",
                              description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    test.add_argument("channels", nargs="*", metavar="CHANNEL")
    test.add_argument("--all", action="store_true", help="every configured channel")
    test.add_argument("--json", action="store_true", help="machine-readable output")
    test.set_defaults(func=test_command)
    parser.set_defaults(func=lambda _args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_usage(sys.stderr)
    print("mrt notify: give an action: test", file=sys.stderr)
    return 2


def test_command(args: argparse.Namespace) -> int:
    if bool(args.channels) == bool(args.all):
        # a ConfigError: exit 2, and with --json the CLI's one error document
        raise ConfigError("notify test: name one or more channels, or --all (not both)",
                          title="Usage error")
    config = load_config(getattr(args, "config", None))
    return run_tests(config, args, None if args.all else args.channels, as_json=args.json)


def run_tests(
    config: Config, args: argparse.Namespace, names: Sequence[str] | None, *, as_json: bool
) -> int:
    """Send the test to `names` (None: every channel); print the answers; the exit code."""
    known = config.channel_names()
    chosen = list(dict.fromkeys(names)) if names is not None else list(known)
    unknown = [n for n in chosen if n not in known]
    if unknown:
        listed = ", ".join(sorted(known)) or "none"
        raise ConfigError(f"notify test: no channel named {', '.join(map(repr, unknown))} "
                          f"(configured: {listed})")
    if not chosen:
        raise ConfigError("notify test: no channels are configured")
    subset = config.model_copy(update={"channels": {n: config.channels[n] for n in chosen}})
    targets = resolve_targets(subset, dict(os.environ))
    now = utcnow()
    target = database_target_for(args, config)
    db = open_database(target, busy_timeout_ms=config.state.busy_timeout_ms)
    try:
        db_ops.migrate_database(db, target=target, now=now, actor=ACTOR, backup_dir=None)
        # --json: stdout is the one JSON document; a console channel's message goes to stderr
        with contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext():
            results = asyncio.run(send_test(config, targets, chosen, actor=ACTOR, now=now))
    finally:
        db.close()
    failed = sum(not r.ok for r in results)
    if as_json:
        print(terminal_json({
            "results": [_result_json(r) for r in results],
            "sent": len(results) - failed, "failed": failed,
        }, indent=2))
    else:
        for result in results:
            print(_line(result))
        print(f"notify test: {len(results) - failed} sent, {failed} failed"
              + (f" (alert {results[0].alert_id}: mrt trace {results[0].alert_id})"
                 if results else ""))
    return 1 if failed else 0


def _line(result: TestResult) -> str:
    mark = "sent" if result.ok else "FAIL"
    return inert_text(
        f"{mark:<5} {result.channel}  {result.target}  {result.answer()}  "
        f"(outbox {result.outbox_id}, {result.status})",
        max_chars=700,
    )


def _result_json(result: TestResult) -> dict[str, Any]:
    return {
        "channel": result.channel, "target": result.target, "ok": result.ok,
        "status": result.status, "http_status": result.http_status,
        "vendor_code": result.vendor_code, "error_class": result.error_class,
        "said": result.said, "outbox_id": result.outbox_id, "alert_id": result.alert_id,
    }

"""`mrt audit`: who did what, when, to what, and why; newest first.

    mrt audit [--json] [--since WHEN] [--action NAME] [--actor cli|tui|worker] [--limit N]

Every operator action (mrt/ops, from the CLI, the console or the worker's own replay) writes one
audit row; this lists them. `--action outbox` matches the whole family (outbox.retry,
outbox.discard). Text from the rows (reasons, matchers) is made inert before it is printed.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from mrt.commands._db import add_db_option, open_for_command
from mrt.commands._output import add_json_option, emit, wants_json
from mrt.errors import ConfigError
from mrt.events import utcnow
from mrt.inert import inert_text
from mrt.store.views.audit import ACTORS, AuditFilter, AuditRow, audit_page
from mrt.timeparse import parse_since


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "audit",
        parents=[common],
        help="list operator actions: who did what, when, to what",
        description="Every retry, discard, acknowledge, silence, replay, cursor reset, poll "
        "request and database operation, newest first.",
    )
    add_db_option(parser)
    add_json_option(parser)
    parser.add_argument("--since", metavar="WHEN", help="e.g. 12h, 7d or 2026-11-01")
    parser.add_argument(
        "--action", metavar="NAME", default="", help="e.g. silence.create, or outbox for outbox.*"
    )
    parser.add_argument("--actor", choices=ACTORS, default="", help="who acted")
    parser.add_argument("--limit", type=int, default=50, metavar="N", help="at most N (50)")
    parser.set_defaults(func=audit_command)


def audit_filter(args: argparse.Namespace, now: datetime) -> AuditFilter:
    since = None
    if args.since:
        try:
            since = parse_since(args.since, now=now)
        except ConfigError:
            raise ConfigError(
                f"expected a span such as 12h, 7d, 2w or a date such as 2026-11-01, "
                f"found {args.since!r}",
                path="--since",
            ) from None
    if args.limit < 1:
        raise ConfigError(f"expected a positive number, found {args.limit}", path="--limit")
    return AuditFilter(since=since, action=args.action.strip(), actor=args.actor)


def audit_command(args: argparse.Namespace) -> int:
    flt = audit_filter(args, utcnow())
    db = open_for_command(args, read_only=True)
    try:
        rows = audit_page(flt, limit=args.limit)
    finally:
        db.close()
    if wants_json(args):
        emit({"entries": [row.as_dict() for row in rows]})
        return 0
    if not rows:
        print("no operator actions" + (" match" if not flt.is_empty() else " recorded yet"))
        return 0
    for row in rows:
        print(audit_line(row))
    return 0


def outcome(result: dict[str, Any]) -> str:
    """The result in a few words: `count=3`, `id=7`."""
    parts = [f"{k}={v}" for k, v in result.items() if isinstance(v, str | int | float | bool)]
    return " ".join(parts)


def audit_line(row: AuditRow) -> str:
    at = row.at.strftime("%Y-%m-%d %H:%M:%S UTC")
    line = f"#{row.id}  {at}  {row.actor:<6}  {row.action:<17}  {row.target or '-'}"
    if row.reason:
        line += f"  reason: {row.reason}"
    done = outcome(row.result)
    if done:
        line += f"  -> {done}"
    return inert_text(line, max_chars=1000)

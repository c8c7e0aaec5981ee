"""`mrt silence`: mute what matches for a while, Alertmanager style.

    mrt silence add --match KEY=VALUE [--match ...] (--for 2h | --until DATE) [--reason TEXT]
    mrt silence list [--all] [--json]
    mrt silence expire ID [--reason TEXT]

KEY is a rule condition (source, source_key, resource_type, resource_id, event_type, keywords,
regex, authors, labels, tags, priority); several KEYs must all match, a KEY given twice matches
either value. Silenced events are stored and traceable, never dropped. Every add and expire is
written to the audit log (actor "cli").
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import datetime, timedelta
from typing import Any

from mrt.commands._db import add_db_option, leaf_options, open_for_command
from mrt.commands._output import add_json_option, emit, wants_json
from mrt.errors import ConfigError
from mrt.events import utcnow
from mrt.inert import inert_text, terminal_json
from mrt.ops import silences as silence_ops
from mrt.rules.parse import CONDITION_KEYS
from mrt.rules.silences import compile_matcher
from mrt.store import silences
from mrt.store.models import Silence
from mrt.timeparse import parse_since

# Keys whose value is one string (several values would need `any:`; RE2 has `|` for that).
_SINGLE_VALUE = ("regex",)
_TREE_KEYS = ("all", "any", "not")
MATCH_KEYS = tuple(k for k in CONDITION_KEYS if k not in _TREE_KEYS)
_SPAN = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "silence",
        parents=[common],
        help="mute matching alerts for a while (add, list, expire)",
        description="Silenced events are stored with decision 'silenced' and shown by "
        "`mrt trace`; `mrt replay` can still deliver them later.",
    )
    add_db_option(parser)
    parser.set_defaults(func=lambda args: _usage(parser))
    actions = parser.add_subparsers(dest="silence_action", metavar="ACTION")

    add = actions.add_parser("add", parents=[leaf_options()], help="create a silence")
    add.add_argument(
        "--match",
        action="append",
        required=True,
        metavar="KEY=VALUE",
        help=f"a condition; KEY is one of {', '.join(MATCH_KEYS)}",
    )
    span = add.add_mutually_exclusive_group(required=True)
    span.add_argument("--for", dest="duration", metavar="SPAN", help="e.g. 90m, 2h, 3d, 1w")
    span.add_argument("--until", metavar="DATE", help="an ISO date/time (UTC if no offset)")
    add.add_argument("--reason", metavar="TEXT", help="kept with the silence and in the audit log")
    add_json_option(add)
    add.set_defaults(func=add_command)

    listing = actions.add_parser("list", parents=[leaf_options()], help="show silences")
    listing.add_argument("--all", action="store_true", help="also the expired ones")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(func=list_command)

    expire = actions.add_parser("expire", parents=[leaf_options()], help="end a silence now")
    expire.add_argument("id", type=int, metavar="ID")
    expire.add_argument("--reason", metavar="TEXT", help="kept in the audit log")
    add_json_option(expire)
    expire.set_defaults(func=expire_command)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def parse_matches(items: list[str]) -> dict[str, Any]:
    """`KEY=VALUE` pairs as a condition mapping: {"source_key": "github:x/*", ...}."""
    matcher: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key or not value.strip():
            raise ConfigError(
                f"expected KEY=VALUE such as source_key=github:vllm-project/*, found {item!r}",
                path="--match",
            )
        if key not in MATCH_KEYS:
            raise ConfigError(
                f"unknown matcher key {key!r}; expected one of {', '.join(MATCH_KEYS)}",
                path="--match",
            )
        if key not in matcher:
            matcher[key] = value
        elif key in _SINGLE_VALUE:
            raise ConfigError(
                f"give {key} once (join alternatives with | inside the pattern)", path="--match"
            )
        else:
            previous = matcher[key]
            matcher[key] = [*(previous if isinstance(previous, list) else [previous]), value]
    return matcher


def expiry_from(args: argparse.Namespace, now: datetime) -> datetime:
    if args.duration is not None:
        span = _SPAN.match(args.duration)
        if span is None:
            raise ConfigError(
                f"expected a span such as 90m, 2h, 3d or 1w, found {args.duration!r}",
                path="--for",
            )
        return now + timedelta(**{_UNITS[span.group(2)]: int(span.group(1))})
    try:
        return parse_since(args.until, now=now)
    except ConfigError:
        raise ConfigError(
            f"expected a date such as 2026-12-01 or 2026-12-01T18:00, found {args.until!r}",
            path="--until",
        ) from None


def add_command(args: argparse.Namespace) -> int:
    matcher = parse_matches(args.match)
    compile_matcher(matcher)  # a bad pattern is reported before the database is opened
    now = utcnow()
    expires_at = expiry_from(args, now)
    db = open_for_command(args, read_only=False)
    try:
        silence_id = silence_ops.create(
            matcher, expires_at=expires_at, now=now, actor="cli", reason=args.reason
        )
    finally:
        db.close()
    if wants_json(args):
        emit({"id": silence_id, "matcher": matcher, "expires_at": expires_at})
        return 0
    print(f"silence #{silence_id} created: {describe_matcher(matcher)} until {_at(expires_at)}")
    return 0


def list_command(args: argparse.Namespace) -> int:
    db = open_for_command(args, read_only=True)
    try:
        now = utcnow()
        rows = silences.list_silences(now, include_ended=args.all)
    finally:
        db.close()
    if args.json:
        print(terminal_json([silence_json(r, now) for r in rows], indent=2))
        return 0
    if not rows:
        print("no silences" if args.all else "no active silences (--all shows expired ones)")
        return 0
    for row in rows:
        state = "active" if silences.is_active(row, now) else "expired"
        reason = f"  ({inert_text(row.reason)})" if row.reason else ""
        print(
            f"#{row.id}  {state:<7}  until {_at(silences.ends_at(row))}  by {row.created_by}  "
            f"{describe_matcher(row.matcher)}{reason}"
        )
    return 0


def expire_command(args: argparse.Namespace) -> int:
    db = open_for_command(args, read_only=False)
    try:
        now = utcnow()
        silence_ops.expire(args.id, now=now, actor="cli", reason=args.reason)
    finally:
        db.close()
    if wants_json(args):
        emit({"id": args.id, "expired_at": now})
        return 0
    print(f"silence #{args.id} expired at {_at(now)}")
    return 0


def describe_matcher(matcher: dict[str, Any]) -> str:
    parts = []
    for key, value in matcher.items():
        values = value if isinstance(value, list) else [value]
        text = ",".join(v if isinstance(v, str) else json.dumps(v) for v in values)
        parts.append(f"{key}={text}")
    return " ".join(parts)


def silence_json(row: Silence, now: datetime) -> dict[str, Any]:
    return {
        "id": int(row.id),
        "matcher": row.matcher,
        "active": silences.is_active(row, now),
        "created_at": row.created_at.isoformat(),
        "expires_at": row.expires_at.isoformat(),
        "expired_early_at": row.expired_early_at.isoformat() if row.expired_early_at else None,
        "created_by": row.created_by,
        "reason": row.reason,
    }


def _at(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")

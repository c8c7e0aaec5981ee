"""`mrt replay`: deliver what the current rules want told of stored events, through the outbox.

    mrt replay --since DATE [--until DATE] [--source KEY] [--rule NAME] [--channel NAME]
               [--resend] [--dry-run] [--yes] [--reason TEXT] [--json]

The dry run prints what would be sent and writes nothing. The real run asks before enqueueing
(refusing, exit 1, when there is no terminal to ask and no --yes), then enqueues everything in
one transaction through mrt.ops.replay, audited (actor "cli"); the worker's senders deliver it.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from typing import Any

from mrt.commands._db import add_db_option, open_for_command
from mrt.config import load_config
from mrt.delivery.channels import resolve_targets
from mrt.errors import ConfigError
from mrt.events import utcnow
from mrt.inert import inert_text, terminal_json
from mrt.ops import replay as replay_ops
from mrt.replay import ReplayPlan, ReplayResult, plan_replay
from mrt.timeparse import parse_since


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "replay",
        parents=[common],
        help="deliver what the current rules match in stored events and was never delivered",
        description="Re-evaluate stored events with the current rules and enqueue, per channel, "
        "what now matches and was never delivered there (or, with --resend, everything that "
        "matches). DATE: an ISO date/time (UTC when no offset) or a span back from now "
        "(7d, 12h, 90m, 2w).",
    )
    add_db_option(parser)
    parser.add_argument("--since", required=True, metavar="DATE")
    parser.add_argument("--until", metavar="DATE", help="up to (not including) this moment")
    parser.add_argument(
        "--source", metavar="KEY", help="a source key or glob: github:vllm-project/*"
    )
    parser.add_argument("--rule", metavar="NAME", help="only events this rule matches now")
    parser.add_argument("--channel", metavar="NAME", help="only deliveries to this channel")
    parser.add_argument("--resend", action="store_true", help="also what was delivered before")
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would be sent; send nothing"
    )
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--reason", metavar="TEXT", help="kept in the audit log")
    parser.add_argument("--json", action="store_true", help="the plan (and result) as JSON")
    parser.set_defaults(func=replay_command)


def _moment(text: str, option: str, now: datetime) -> datetime:
    try:
        return parse_since(text, now=now)
    except ConfigError:
        raise ConfigError(
            f"expected a span such as 7d, 12h, 90m, 2w or a date such as 2026-11-01, "
            f"found {text!r}",
            path=option,
        ) from None


def replay_command(args: argparse.Namespace) -> int:
    if args.json and not (args.dry_run or args.yes):
        raise ConfigError(
            "--json needs --dry-run or --yes (there is no question in JSON)", path="--json"
        )
    config = load_config(args.config)
    now = utcnow()
    since = _moment(args.since, "--since", now)
    until = _moment(args.until, "--until", now) if args.until else None
    targets = resolve_targets(config, os.environ)
    db = open_for_command(args, read_only=args.dry_run, config=config)
    try:
        plan = plan_replay(
            config,
            targets,
            since=since,
            until=until,
            source=args.source,
            rule=args.rule,
            channel=args.channel,
            resend=args.resend,
            now=now,
        )
        if not args.json:
            print(format_plan(plan, dry_run=args.dry_run))
        result = None
        if plan.items and not args.dry_run:
            if not args.yes and not _confirmed(plan):
                return 1
            result = replay_ops.apply(plan, db=db, now=utcnow(), actor="cli", reason=args.reason)
    finally:
        db.close()
    if args.json:
        print(
            terminal_json({"plan": plan_json(plan), "result": result_json(result)}, indent=2)
        )
    elif result is not None:
        print(format_result(result))
    return 0


def _confirmed(plan: ReplayPlan) -> bool:
    if not sys.stdin.isatty():
        print(
            "mrt replay: not sending without confirmation, and there is no terminal "
            "to ask: pass --yes (see what would be sent with --dry-run)",
            file=sys.stderr,
        )
        return False
    answer = input(f"enqueue {plan.deliveries} deliveries? [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        print("nothing sent", file=sys.stderr)
        return False
    return True


def format_result(result: ReplayResult) -> str:
    ids = ", ".join(f"#{i}" for i in result.alert_ids[:20])
    more = f" and {len(result.alert_ids) - 20} more" if len(result.alert_ids) > 20 else ""
    text = (
        f"enqueued {result.deliveries} deliveries in {len(result.alert_ids)} alerts"
        + (f" ({ids}{more})" if ids else "")
        + f"; audit #{result.audit_id}; the worker sends them at its next round"
    )
    if result.dropped:
        text += f"\n{result.dropped} planned events were delivered meanwhile and were left out"
    return text


def plan_json(plan: ReplayPlan) -> dict[str, Any]:
    return {
        **plan.params,
        "rule_version": plan.rule_digest,
        "considered": plan.considered,
        "deliveries": plan.deliveries,
        "events": [
            {
                "event_id": item.event_id,
                "fingerprint": item.fingerprint,
                "observed_at": item.observed_at.isoformat(),
                "source_key": item.source_key,
                "title": item.title,
                "url": item.url,
                "channels": list(item.channels),
                "missing_channels": list(item.missing_channels),
                "rules": list(item.rules),
            }
            for item in plan.items
        ],
        "skipped": dict(plan.skipped),
    }


def result_json(result: ReplayResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return {
        "alerts": list(result.alert_ids),
        "deliveries": result.deliveries,
        "audit_id": result.audit_id,
        "dropped": result.dropped,
    }


def format_plan(plan: ReplayPlan, *, dry_run: bool) -> str:
    verb = "would be sent" if dry_run else "to send"
    lines = [
        f"{len(plan.items)} events {verb} ({plan.deliveries} deliveries) of {plan.considered} "
        f"stored, rule version {plan.rule_digest[:12]}"
    ]
    for item in plan.items:
        missing = ", ".join(item.missing_channels)
        lines.append(
            f"  {item.observed_at:%Y-%m-%d %H:%M}  {inert_text(item.source_key)}  "
            f"{inert_text(item.title, max_chars=200)}  -> {', '.join(item.channels) or 'no one'}"
            + (f" (not configured: {missing})" if missing else "")
        )
    if plan.skipped:
        left_out = ", ".join(f"{why} {n}" for why, n in sorted(plan.skipped.items()))
        lines.append(f"left out: {left_out}")
    if not plan.items:
        lines.append("nothing to replay")
    return "\n".join(lines)

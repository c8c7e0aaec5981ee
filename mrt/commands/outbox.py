"""`mrt outbox`: see deliveries, retry dead letters, discard what should never go out.

    mrt outbox [--status S] [--channel C] [--source KEY] [--json] [--limit N] [--after ID]
    mrt outbox retry ID [ID...] | --all-dead [--channel C] [--yes] [--reason TEXT]
    mrt outbox discard ID [ID...] [--yes] [--reason TEXT]

Discard cannot be undone: like retry --all-dead, `mrt alerts ack` and replay, it asks on a
terminal, and refuses (exit 1, nothing done) with no terminal to ask and no --yes.

Every retry and discard is a call into mrt.ops.outbox, which audits it (actor "cli").

Listing exits 4 ("something needs you", as `mrt-worker --once` does when a delivery ended
retrying or dead) when a dead delivery is among the rows listed, so `mrt outbox --status dead`
in cron or a monitoring check fails loudly; 0 when none is; 2 for a usage error.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from datetime import datetime
from typing import Any

from mrt.commands._db import add_db_option, leaf_options, open_for_command
from mrt.commands._output import add_json_option, emit, refuse_question, report_error, wants_json
from mrt.events import utcnow
from mrt.inert import inert_text, terminal_json
from mrt.ops import outbox
from mrt.ops.outbox import STATUSES, OutboxFilter, OutboxRow
from mrt.store.outbox_records import redact_common_secrets
from mrt.store.views import outbox as outbox_views
from mrt.store.views import undelivered_alerts
from mrt.timefmt import duration

ACTOR = "cli"
EXIT_DEAD_LISTED = 4  # dead letters listed: an operator must look (README, "Exit codes")


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "outbox",
        parents=[common],
        help="list deliveries; retry or discard them",
        description="Deliveries, dead letters first. Subcommands: retry, discard.",
    )
    add_db_option(parser)
    parser.add_argument("--status", choices=STATUSES)
    parser.add_argument("--channel", metavar="NAME")
    parser.add_argument("--source", metavar="SOURCE_KEY", help="e.g. github:vllm-project/vllm")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--limit", type=int, default=50, metavar="N")
    parser.add_argument("--after", type=int, metavar="ID", help="next page: the last id shown")
    parser.set_defaults(func=list_command)
    actions = parser.add_subparsers(dest="outbox_action", metavar="ACTION")

    retry = actions.add_parser(
        "retry", parents=[leaf_options()], help="make dead or retrying deliveries due now"
    )
    retry.add_argument("ids", nargs="*", type=int, metavar="ID")
    retry.add_argument("--all-dead", action="store_true", help="every dead delivery")
    retry.add_argument("--channel", metavar="NAME", default=argparse.SUPPRESS,
                       help="with --all-dead: only this channel")
    retry.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    retry.add_argument("--reason", metavar="TEXT", help="kept in the audit log")
    add_json_option(retry)
    retry.set_defaults(func=retry_command)

    discard = actions.add_parser(
        "discard", parents=[leaf_options()], help="never send these deliveries"
    )
    discard.add_argument("ids", nargs="+", type=int, metavar="ID")
    discard.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    discard.add_argument("--reason", metavar="TEXT", help="kept in the audit log")
    add_json_option(discard)
    discard.set_defaults(func=discard_command)


def list_command(args: argparse.Namespace) -> int:
    if args.limit < 1:
        return report_error(args, "mrt outbox: --limit must be at least 1")
    db = open_for_command(args, read_only=True)
    try:
        now = utcnow()
        rows = outbox_views.list_outbox(
            status=args.status, channel=args.channel, source_key=args.source,
            after_id=args.after, limit=args.limit,
        )
        counts = outbox_views.counts_by_status()
        oldest = outbox_views.oldest_pending_age_seconds(now)
        nowhere = undelivered_alerts()
    finally:
        db.close()
    next_after = rows[-1].id if len(rows) == args.limit else None
    code = EXIT_DEAD_LISTED if any(r.status == "dead" for r in rows) else 0
    if args.json:
        print(terminal_json({
            "counts": counts,
            "oldest_pending_age_seconds": oldest,
            "deliveries": [_row_json(r) for r in rows],
            "next_after_id": next_after,
            "undelivered_alerts": {"count": nowhere[0], "newest_ids": nowhere[1]},
        }, indent=2))
        return code
    print(_summary(counts, oldest))
    if nowhere[0]:
        print(undelivered_line(*nowhere))
    if not rows:
        print("no deliveries match")
        return 0
    print(_table(rows, now))
    if next_after is not None:
        print(f"more: mrt outbox --after {next_after}")
    return code


def retry_command(args: argparse.Namespace) -> int:
    if bool(args.ids) == bool(args.all_dead):
        return report_error(args, "mrt outbox retry: give delivery ids, or --all-dead (not both)")
    channel = getattr(args, "channel", None)
    if args.ids and channel:
        return report_error(args, "mrt outbox retry: --channel goes with --all-dead, not with ids")
    refuse_question(args)
    db = open_for_command(args, read_only=False)
    try:
        if args.ids:
            return _act_on_ids("retry", args.ids, args.reason, wants_json(args))
        selection = OutboxFilter(status="dead", channel=channel or "")
        count, ceiling = outbox.preview(selection, action="retry")
        where = f" on channel {channel}" if channel else ""
        if wants_json(args):  # --yes is given (refuse_question): no plan to show first
            done = outbox.retry(selection, now=utcnow(), actor=ACTOR, max_id=ceiling,
                                reason=args.reason) if count else 0
            emit({"action": "retry", "matched": count, "done": done, "refused": []})
            return 0
        if count == 0:
            print(f"no dead deliveries{where}")
            return 0
        print(f"{count} dead deliveries{where} (ids up to {ceiling}) will be due again now")
        if not args.yes and not _confirm("retry them?"):
            print("nothing done (pass --yes to skip this question)", file=sys.stderr)
            return 1
        done = outbox.retry(selection, now=utcnow(), actor=ACTOR, max_id=ceiling,
                            reason=args.reason)
        print(f"retried {done}; the worker sends them at its next round")
        return 0
    finally:
        db.close()


def discard_command(args: argparse.Namespace) -> int:
    refuse_question(args)
    db = open_for_command(args, read_only=False)
    try:
        listed = ", ".join(f"#{i}" for i in dict.fromkeys(args.ids))
        if not args.yes and not _confirm(f"discard {listed}: never sent (cannot be undone)?"):
            print("nothing done: confirm at the prompt, or pass --yes in scripts", file=sys.stderr)
            return 1
        return _act_on_ids("discard", args.ids, args.reason, wants_json(args))
    finally:
        db.close()


def _act_on_ids(action: str, ids: list[int], reason: str | None, as_json: bool = False) -> int:
    refused = outbox.refusals(action, ids)
    act = outbox.retry if action == "retry" else outbox.discard
    done = act(ids, now=utcnow(), actor=ACTOR, reason=reason)
    if as_json:
        emit({"action": action, "matched": len(set(ids)), "done": done, "refused": refused})
        return 0 if done == len(set(ids)) else 1
    verb = "retried" if action == "retry" else "discarded"
    print(f"{verb} {done} of {len(set(ids))}")
    for line in refused:
        print(f"  {line}", file=sys.stderr)
    return 0 if done == len(set(ids)) else 1


def undelivered_line(count: int, newest: list[int]) -> str:
    """Alerts with no outbox row are not in this list: say so, never silently."""
    ids = ", ".join(f"#{i}" for i in newest)
    return (f"{count} alert{'s' if count != 1 else ''} went to no one (no delivery at all; "
            f"newest {ids}): `mrt trace ID` says why")


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _row_json(row: OutboxRow) -> dict[str, Any]:
    data = asdict(row)
    for key, value in data.items():
        if isinstance(value, datetime):
            data[key] = value.isoformat()
    data["target"] = redact_common_secrets(row.target)
    data["source_key"] = row.source_key or None
    return data


def _summary(counts: dict[str, int], oldest: float | None) -> str:
    parts = [f"{status} {counts[status]}" for status in STATUSES if counts.get(status)]
    text = " · ".join(parts) if parts else "the outbox is empty"
    if oldest is not None:
        text += f" · oldest unsent {duration(oldest)} old"
    return text


def _next_attempt(row: OutboxRow, now: datetime) -> str:
    if row.status not in ("pending", "retrying") or row.next_attempt_at is None:
        return "-"
    wait = (row.next_attempt_at - now).total_seconds()
    return "now" if wait <= 0 else f"in {duration(wait)}"


def _clip(text: str, width: int) -> str:
    """Stored text (an upstream error body, a channel name) as one inert table cell."""
    return inert_text(text, max_chars=width)


def _table(rows: list[OutboxRow], now: datetime) -> str:
    header = ("ID", "STATUS", "CHANNEL", "TARGET", "TRIES", "NEXT", "LAST ERROR")
    lines = [
        (str(r.id), r.status, _clip(r.channel, 30),
         _clip(redact_common_secrets(r.target), 40),
         str(r.attempts), _next_attempt(r, now),
         _clip(" ".join((r.last_error or "").split()), 70))
        for r in rows
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines]
    return "\n".join(out)

"""`mrt events`: every observed event, matched or not, newest first, with why it did or did not
alert (the words of `mrt trace`, from mrt.ops.explain).

    mrt events [--json] [--source KEY] [--matched | --unmatched] [--limit N]

`--matched`: a rule matched (told, aggregated, digested, suppressed, silenced, deduplicated or
tagged); `--unmatched`: none did (or the source's baseline, v0's history, a processing failure).
Reads one keyset page: as fast on a million events as on a hundred.
"""

from __future__ import annotations

import argparse
from typing import Any

from mrt.commands._db import add_db_option, open_for_command
from mrt.commands._output import add_json_option, emit, wants_json
from mrt.errors import ConfigError
from mrt.inert import inert_text
from mrt.ops.explain import explain_decision
from mrt.store.views.events import EventFilter, EventRow, events_page


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "events",
        parents=[common],
        help="list observed events, matched or not, with why each did or did not alert",
        description="Every event the sources observed is stored, matched or not; this lists "
        "them newest first with the rules' decision in words. `mrt trace FINGERPRINT` follows "
        "one to its deliveries.",
    )
    add_db_option(parser)
    add_json_option(parser)
    parser.add_argument("--source", metavar="KEY", default="", help="one source key, exactly")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--matched", action="store_true", help="only events a rule matched")
    which.add_argument("--unmatched", action="store_true", help="only events no rule matched")
    parser.add_argument("--limit", type=int, default=50, metavar="N", help="at most N (50)")
    parser.set_defaults(func=events_command)


def events_command(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise ConfigError(f"expected a positive number, found {args.limit}", path="--limit")
    matched = True if args.matched else False if args.unmatched else None
    flt = EventFilter(source=args.source.strip(), matched=matched)
    db = open_for_command(args, read_only=True)
    try:
        rows = events_page(flt, limit=args.limit)
    finally:
        db.close()
    if wants_json(args):
        emit({"events": [event_json(row) for row in rows]})
        return 0
    if not rows:
        print("no events match" if not flt.is_empty() else "no events stored yet")
        return 0
    for row in rows:
        print(event_lines(row))
    return 0


def why(row: EventRow) -> list[str]:
    """The decision in words, as `mrt trace` says it; a processing failure names its error."""
    lines = explain_decision(row.decision, row.decision_detail, row.silence)
    if row.error:
        lines.append(f"processing failed: {row.error}")
    return lines


def event_json(row: EventRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "fingerprint": row.fingerprint,
        "observed_at": row.observed_at.isoformat(),
        "source_key": row.source_key,
        "event_type": row.event_type,
        "resource_id": row.resource_id,
        "title": row.title,
        "url": row.url,
        "decision": row.decision,
        "why": why(row),
        "silence": row.silence,
        "error": row.error,
    }


def event_lines(row: EventRow) -> str:
    at = row.observed_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    head = (f"#{row.id}  {at}  {row.decision:<10}  {row.source_key}  {row.event_type}  "
            f"{row.title}  [{row.fingerprint[:12]}]")
    lines = [inert_text(head, max_chars=400)]
    lines += [f"    {inert_text(line, max_chars=600)}" for line in why(row)]
    return "\n".join(lines)

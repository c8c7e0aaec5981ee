"""`mrt sources quarantined [KEY]`: the upstream items each source kept aside, newest first.

    mrt sources quarantined [KEY] [--limit N] [--json] [--config FILE] [--db PATH]

`mrt sources` shows a count and the latest reason per source; this lists each item with its
reason (which names the source, the item and the field), where to see it upstream, when it was
first and last seen and how many times. `--json` adds the trimmed copy of the item.
Reasons are stored with control and format characters escaped, so they print as they are.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from mrt.commands._db import leaf_options, open_for_command
from mrt.commands._output import emit
from mrt.store import quarantine
from mrt.store.models import QuarantinedItem


def register_action(actions: Any) -> None:
    parser = actions.add_parser(
        "quarantined",
        parents=[leaf_options()],
        help="the upstream items the sources kept aside, with their reasons",
    )
    parser.add_argument("key", metavar="KEY", nargs="?", help="only this source")
    parser.add_argument("--limit", type=int, default=50, metavar="N", help="at most N items")
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="machine-readable output, with each item's trimmed copy")
    parser.set_defaults(func=list_quarantined)


def list_quarantined(args: argparse.Namespace) -> int:
    db = open_for_command(args, read_only=True)
    try:
        found = quarantine.items(args.key, limit=max(1, args.limit))
    finally:
        db.close()
    if getattr(args, "json", False):
        emit({"quarantined": [item_json(r) for r in found]})  # escaped: raw is upstream text
        return 0
    if not found:
        where = f"source {args.key}" if args.key else "any source"
        print(f"no upstream item of {where} is quarantined")
        return 0
    for row in found:
        print(row.reason)
        seen = f"first seen {_iso(row.first_seen_at)}, last {_iso(row.last_seen_at)}"
        print(f"    {seen}, {row.count} time{'s' if row.count != 1 else ''}"
              + (f", {row.url}" if row.url else ""))
    return 0


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def item_json(row: QuarantinedItem) -> dict[str, Any]:
    return {
        "source_key": row.source_key,
        "item_key": row.item_key,
        "upstream_id": row.upstream_id,
        "url": row.url,
        "reason": row.reason,
        "first_seen_at": _iso(row.first_seen_at),
        "last_seen_at": _iso(row.last_seen_at),
        "count": row.count,
        "raw": row.raw,
    }

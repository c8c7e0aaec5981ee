"""`mrt alerts ack` / `unack`: mark alerts as seen, as the console's `a` does, or take that back
(the console's `u`).

    mrt alerts ack ID [ID...] [--yes] [--reason TEXT]
    mrt alerts unack ID [ID...] [--reason TEXT]

Acknowledging keeps the first person and time (acknowledging again changes neither), so it
asks first, as `mrt db restore` and `mrt outbox retry --all-dead` do; `--yes` skips the
question (scripts must pass it). `unack` is its undo: it asks nothing (it loses nothing: the
audit log keeps who had acknowledged). Each run is a call into mrt.ops.alerts, audited as
"alert.acknowledge" or "alert.unacknowledge" (actor "cli").
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mrt.commands._db import add_db_option, leaf_options, open_for_command
from mrt.commands._output import add_json_option, emit, refuse_question, wants_json
from mrt.events import utcnow
from mrt.ops import alerts as alert_ops
from mrt.store import alerts as store_alerts

ACTOR = "cli"


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "alerts",
        parents=[common],
        help="act on alerts (ack, unack)",
        description="Act on alerts. Subcommands: ack (mark them seen, as the console's `a`), "
        "unack (take that back, as the console's `u`).",
    )
    add_db_option(parser)
    parser.set_defaults(func=lambda args: _usage(parser))
    actions = parser.add_subparsers(dest="alerts_action", metavar="ACTION")

    ack = actions.add_parser("ack", parents=[leaf_options()], help="acknowledge alerts")
    ack.add_argument("ids", nargs="+", type=int, metavar="ID")
    ack.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    ack.add_argument("--reason", metavar="TEXT", help="kept in the audit log")
    add_json_option(ack)
    ack.set_defaults(func=ack_command)

    unack = actions.add_parser(
        "unack", parents=[leaf_options()], help="take acknowledgements back"
    )
    unack.add_argument("ids", nargs="+", type=int, metavar="ID")
    unack.add_argument("--reason", metavar="TEXT", help="kept in the audit log")
    add_json_option(unack)
    unack.set_defaults(func=unack_command)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def ack_command(args: argparse.Namespace) -> int:
    ids = list(dict.fromkeys(int(i) for i in args.ids))
    refuse_question(args)
    db = open_for_command(args, read_only=False)
    try:
        known = store_alerts.known_alert_ids(ids)
        missing = [i for i in ids if i not in known]
        for alert_id in missing if not wants_json(args) else ():
            print(f"  #{alert_id}: no such alert", file=sys.stderr)
        chosen = [i for i in ids if i in known]
        if not chosen:
            _ack_json(args, [], 0, missing)
            return 1
        listed = ", ".join(f"#{i}" for i in chosen)
        if not args.yes and not _confirm(f"acknowledge {listed} (cannot be undone)?"):
            print("nothing done (pass --yes to skip this question)", file=sys.stderr)
            return 1
        changed = alert_ops.acknowledge(chosen, now=utcnow(), actor=ACTOR, reason=args.reason)
    finally:
        db.close()
    already = len(chosen) - changed
    if _ack_json(args, chosen, changed, missing):
        return 1 if missing else 0
    print(f"acknowledged {changed} of {len(chosen)}"
          + (f" ({already} already acknowledged)" if already else ""))
    return 1 if missing else 0


def _ack_json(args: argparse.Namespace, chosen: list[int], changed: int, missing: list[int]) -> bool:
    if wants_json(args):
        emit({"acknowledged": changed, "already_acknowledged": len(chosen) - changed,
              "ids": chosen, "missing": missing})
    return wants_json(args)


def unack_command(args: argparse.Namespace) -> int:
    ids = list(dict.fromkeys(int(i) for i in args.ids))
    db = open_for_command(args, read_only=False)
    try:
        known = store_alerts.known_alert_ids(ids)
        missing = [i for i in ids if i not in known]
        for alert_id in missing:
            print(f"  #{alert_id}: no such alert", file=sys.stderr)
        chosen = [i for i in ids if i in known]
        if not chosen:
            return 1
        changed = alert_ops.unacknowledge(chosen, now=utcnow(), actor=ACTOR, reason=args.reason)
    finally:
        db.close()
    unseen = len(chosen) - changed
    if wants_json(args):
        emit({"unacknowledged": changed, "not_acknowledged": unseen, "ids": chosen,
              "missing": missing})
        return 1 if missing else 0
    print(f"unacknowledged {changed} of {len(chosen)}"
          + (f" ({unseen} were not acknowledged)" if unseen else ""))
    return 1 if missing else 0

"""`mrt cursor reset KEY --to DATE|baseline`: move a source's cursor, after a backup."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mrt.commands._db import add_db_option, command_config, open_for_command
from mrt.commands._output import add_json_option, emit, refuse_question, wants_json
from mrt.errors import StoreError
from mrt.events import utcnow
from mrt.inert import inert_text
from mrt.ops import cursor as cursor_ops
from mrt.ops.cursor import cursor_at, parse_reset_target
from mrt.store.backup import configured_backup_dir
from mrt.store.models import SourceState


def reset(args: argparse.Namespace) -> int:
    to = parse_reset_target(args.to)
    refuse_question(args)
    config = command_config(args)
    db = open_for_command(args, read_only=False, config=config)
    backup_dir: Path | None = Path(args.backup_dir).expanduser() if args.backup_dir else None
    if backup_dir is None and config is not None:
        backup_dir = configured_backup_dir(config.state.backup_dir)
    try:
        state = SourceState.get_or_none(SourceState.source_key == args.key)
        if state is None:
            raise StoreError(
                f"no source {args.key!r} in the database (a source appears after the worker's "
                "first poll)",
                title="Unknown source",
            )
        new = cursor_at(str(state.source), to)
        what = (
            "the next poll records a silent baseline (nothing is alerted)"
            if new is None
            else f"the next poll reads from {new['reset_to']} (changes since then are alerted)"
        )
        before = state.cursor
        if not wants_json(args):
            print(f"{inert_text(args.key)}: the cursor stands at {cursor_words(state.cursor)}.")
            print(f"After the reset, {what}. The database is backed up first.")
        if not args.yes:
            if not sys.stdin.isatty():
                print("mrt: not a terminal; pass --yes to confirm", file=sys.stderr)
                return 1
            if input("reset it? [y/N] ").strip().lower() not in ("y", "yes"):
                print("cancelled")
                return 1
        report = cursor_ops.reset_cursor(
            db,
            args.key,
            to,
            now=utcnow(),
            backup_dir=backup_dir,
            actor="cli",
            reason=args.reason,
        )
    finally:
        db.close()
    if wants_json(args):
        emit({"source": args.key, "cursor_before": before, "cursor_after": new,
              "backup": report.backup_path})
        return 0
    if report.backup_path:
        print(f"backup: {report.backup_path}")
    print(f"{inert_text(args.key)}: the cursor is reset.")
    return 0


def cursor_words(cursor: object) -> str:
    """A cursor in words for the terminal ("since 2026-11-20T09:28:00Z"), not a Python repr."""
    if cursor is None or cursor == {}:
        return "nothing yet (no poll has set it)"
    if not isinstance(cursor, dict):
        return inert_text(json.dumps(cursor, default=str))
    parts = []
    for key, value in cursor.items():
        shown = value if isinstance(value, str) else json.dumps(value, default=str)
        parts.append(f"{key} {shown}")
    return inert_text(", ".join(parts), max_chars=500)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    cursor = sub.add_parser("cursor", help="inspect or move a source's cursor")
    actions = cursor.add_subparsers(dest="cursor_command", metavar="ACTION", required=True)
    p = actions.add_parser(
        "reset",
        parents=[common],
        help="set a source's cursor to a date or to a silent baseline (backs up first)",
    )
    p.add_argument("key", metavar="KEY", help="source key, e.g. github:vllm-project/vllm")
    p.add_argument("--to", required=True, metavar="DATE|baseline")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--reason", metavar="TEXT", help="why, for the audit log")
    add_db_option(p)
    p.add_argument(
        "--backup-dir",
        metavar="DIR",
        help="where the backup goes (default: the config's state.backup_dir, else backups/ "
        "beside the database)",
    )
    add_json_option(p)
    p.set_defaults(func=reset)

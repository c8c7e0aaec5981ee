"""`mrt sources`: every configured source with what the database knows of it.

    mrt sources [--config FILE] [--db PATH] [--json]
    mrt sources poll KEY [--reason TEXT]
    mrt sources quarantined [KEY] [--limit N] [--json]     (mrt/commands/_quarantined.py)

The list joins the config (what should be polled) with the source state rows (what was polled):
a configured source the worker never polled shows as "never polled"; a row in the database
whose source is no longer configured shows as "not configured" (its history is kept).
`poll KEY` asks the worker to poll a source at its next tick; it is written to the audit log.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from mrt import timefmt
from mrt.commands import _quarantined as quarantined
from mrt.commands._db import add_db_option, leaf_options, open_for_command
from mrt.commands._output import add_json_option, emit, report_error, wants_json
from mrt.config import Config, database_target, load_config
from mrt.events import utcnow
from mrt.inert import inert_text, terminal_json
from mrt.ops import sources as source_ops
from mrt.pipeline import build_specs
from mrt.source_kit.contract import SourceSpec
from mrt.store import quarantine, workers
from mrt.store import sources as source_store
from mrt.store.models import SourceState
from mrt.store.quarantine import QuarantineSummary
from mrt.store.views.sources import SourceRow


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "sources",
        parents=[common],
        help="every configured source and its state; ask for a poll",
        description="Sources from the config with their state in the database. "
        "Subcommand: poll KEY.",
    )
    add_db_option(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=list_command)
    actions = parser.add_subparsers(dest="sources_action", metavar="ACTION")
    poll = actions.add_parser(
        "poll", parents=[leaf_options()], help="ask the worker to poll a source now"
    )
    poll.add_argument("key", metavar="KEY", help="a source key, e.g. github:vllm-project/vllm")
    poll.add_argument("--reason", metavar="TEXT", help="kept in the audit log")
    add_json_option(poll)
    poll.set_defaults(func=poll_command)
    quarantined.register_action(actions)


def source_rows(
    specs: list[SourceSpec],
    states: list[SourceState],
    kept: dict[str, QuarantineSummary] | None = None,
) -> list[SourceRow]:
    """Configured sources in config order, then the database's unconfigured ones by key."""
    by_key = {state.source_key: state for state in states}
    rows = [_row(spec.key, spec.plugin, by_key.get(spec.key), configured=True) for spec in specs]
    configured = {spec.key for spec in specs}
    rows += [
        _row(state.source_key, state.source, state, configured=False)
        for state in states
        if state.source_key not in configured
    ]
    kept = kept or {}
    return [
        replace(row, quarantined=kept[row.key].count, quarantine_reason=kept[row.key].latest_reason)
        if row.key in kept
        else row
        for row in rows
    ]


def _row(key: str, plugin: str, state: SourceState | None, *, configured: bool) -> SourceRow:
    if state is None:
        return SourceRow(
            key=key, plugin=plugin, configured=configured, health="new",
            health_detail=None, last_poll_at=None, last_success_at=None, next_poll_at=None,
            poll_requested_at=None, deferred_until=None, cursor=None, last_error_class=None,
            last_http_status=None, last_error=None, consecutive_failures=0,
            ratelimit_remaining=None, ratelimit_reset_at=None,
        )
    return SourceRow(
        key=key,
        plugin=plugin,
        configured=configured,
        health=state.health if configured else "not configured",
        health_detail=state.health_detail,
        last_poll_at=state.last_poll_at,
        last_success_at=state.last_success_at,
        next_poll_at=state.next_poll_at,
        poll_requested_at=state.poll_requested_at,
        deferred_until=state.deferred_until,
        cursor=state.cursor,
        last_error_class=state.last_error_class,
        last_http_status=state.last_http_status,
        last_error=state.last_error,
        consecutive_failures=int(state.consecutive_failures),
        ratelimit_remaining=state.ratelimit_remaining,
        ratelimit_reset_at=state.ratelimit_reset_at,
    )


def _database_exists(target: str) -> bool:
    return "://" in target or Path(target).expanduser().is_file()


def list_command(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    specs = build_specs(config)
    target = _target(args, config)
    states: list[SourceState] = []
    kept: dict[str, QuarantineSummary] = {}
    failed_reloads: list[workers.ReloadFailure] = []
    now = utcnow()
    if _database_exists(target):
        db = open_for_command(_with_db(args, target), read_only=True, config=config)
        try:
            states = source_store.list_states()
            kept = quarantine.summaries()
            failed_reloads = workers.reload_failures(now)
        finally:
            db.close()
    elif not args.json:
        print(f"no database at {target} yet: the worker creates it on its first run")
    rows = source_rows(specs, states, kept)
    if args.json:
        print(terminal_json({"sources": [row_json(r) for r in rows],
                             "reload_failures": [reload_json(f) for f in failed_reloads]},
                            indent=2))
    else:
        for failure in failed_reloads:  # what these rows may not match: the config on disk
            print(inert_text(f"warning: {failure.sentence()}", max_chars=1200))
        print(render_table(rows, now))
    return 0


def poll_command(args: argparse.Namespace) -> int:
    config = load_config(getattr(args, "config", None))
    specs = {spec.key: spec for spec in build_specs(config)}
    spec = specs.get(args.key)
    if spec is None:
        known = ", ".join(specs) or "none"
        return report_error(args, f"mrt sources poll: {args.key} is not a configured source "
                            f"(configured: {known})", code=1, title="Unknown source")
    target = _target(args, config)
    if not _database_exists(target):
        return report_error(args, f"mrt sources poll: there is no database at {target} yet: start "
                            "the worker (its first cycle polls every source)", code=1,
                            title="No database")
    db = open_for_command(_with_db(args, target), read_only=False, config=config)
    try:
        now = utcnow()
        source_ops.poll_now(spec.key, now=now, actor="cli", plugin=spec.plugin,
                            reason=getattr(args, "reason", None))
    finally:
        db.close()
    if wants_json(args):
        emit({"source": spec.key, "requested_at": now})
        return 0
    print(f"poll of {spec.key} requested; the worker polls it at its next tick")
    return 0


def _target(args: argparse.Namespace, config: Config) -> str:
    if getattr(args, "db", None):
        return str(args.db)
    return database_target(config)


def _with_db(args: argparse.Namespace, target: str) -> argparse.Namespace:
    """The same arguments with the database resolved, so the config is not read twice."""
    resolved = argparse.Namespace(**vars(args))
    resolved.db = target
    return resolved


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def reload_json(failure: workers.ReloadFailure) -> dict[str, Any]:
    return {"worker_id": failure.worker_id, "hostname": failure.hostname, "pid": failure.pid,
            "error": failure.error, "failed_at": failure.failed_at.isoformat()}


def row_json(row: SourceRow) -> dict[str, Any]:
    data = asdict(row)
    for name, value in data.items():
        if isinstance(value, datetime):
            data[name] = value.isoformat()
    data["last_error"] = (
        None
        if row.last_error is None and row.last_error_class is None
        else {"class": row.last_error_class, "http_status": row.last_http_status,
              "message": row.last_error}
    )
    del data["last_error_class"]
    data["polled"] = row.polled
    data["quarantined"] = {"count": row.quarantined, "latest_reason": row.quarantine_reason}
    del data["quarantine_reason"]
    return data


def relative(moment: datetime | None, now: datetime) -> str:
    """ "3m ago", "in 2m", "now": short enough for a table column."""
    if moment is None:
        return "-"
    seconds = (moment - now).total_seconds()
    if abs(seconds) < 5:
        return "now"
    return timefmt.relative(moment, now)


def _clip(text: str, width: int) -> str:
    """Stored text (an upstream HTML error body) as one inert table cell (mrt/inert.py)."""
    return inert_text(" ".join(text.split()), max_chars=width)


def _health(row: SourceRow, now: datetime) -> str:
    if not row.configured:
        return "not configured"
    if not row.polled:
        return "never polled"
    if row.deferred_until is not None and row.deferred_until > now:
        return f"deferred {relative(row.deferred_until, now)}"
    return row.health


def _next(row: SourceRow, now: datetime) -> str:
    if not row.configured:
        return "-"
    if row.deferred_until is not None and row.deferred_until > now:
        return relative(row.deferred_until, now)  # a request cannot jump a rate limit
    if row.poll_requested_at is not None or not row.polled:
        return "asked" if row.poll_requested_at is not None else "first run"
    return relative(row.next_poll_at, now)


def _rate(row: SourceRow, now: datetime) -> str:
    if row.ratelimit_remaining is None:
        return "-"
    reset = f", reset {relative(row.ratelimit_reset_at, now)}" if row.ratelimit_reset_at else ""
    return f"{row.ratelimit_remaining} left{reset}"


def _error(row: SourceRow) -> str:
    if row.last_error is None and row.last_error_class is None:
        return row.health_detail or ""
    status = f" HTTP {row.last_http_status}" if row.last_http_status else ""
    return f"{row.last_error_class or 'Error'}{status}: {row.last_error or ''}"


def _cursor(row: SourceRow) -> str:
    if row.cursor is None:
        return "-"
    return _clip(json.dumps(row.cursor, ensure_ascii=False, separators=(",", ":")), 40)


def render_table(rows: list[SourceRow], now: datetime) -> str:
    if not rows:
        return "no sources configured"
    header = ("SOURCE", "HEALTH", "LAST POLL", "NEXT POLL", "FAILS", "RATE LIMIT", "CURSOR",
              "LAST ERROR")
    lines = [
        (_clip(row.key, 60), _health(row, now), relative(row.last_poll_at, now), _next(row, now),
         str(row.consecutive_failures), _rate(row, now), _cursor(row), _clip(_error(row), 80))
        for row in rows
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
            for line in lines]
    return "\n".join(out + quarantine_lines(rows))


def quarantine_lines(rows: list[SourceRow]) -> list[str]:
    """Below the table, only when a source kept items aside: how many, and the latest reason."""
    kept = [row for row in rows if row.quarantined]
    if not kept:
        return []
    width = max(len(row.key) for row in kept)
    return ["", "QUARANTINED upstream items (kept aside; the rest of each page went on):"] + [
        f"  {row.key.ljust(width)}  {row.quarantined}  latest: "
        f"{_clip(row.quarantine_reason or '', 160)}"
        for row in kept
    ]

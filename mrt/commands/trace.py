"""`mrt trace FINGERPRINT|ALERT_ID [--json]`: event -> rules -> alert -> every target -> every attempt."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from mrt.commands._db import add_db_option, open_for_command
from mrt.inert import inert_text, terminal_json
from mrt.ops.explain import trace
from mrt.store.trace import AlertInfo, DeliveryInfo, EventInfo, Trace


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "trace",
        parents=[common],
        help="follow one event or alert to every delivery attempt",
        description="REF: an event fingerprint (or a unique prefix of 8+ characters), "
        "or an alert id (also written alert:ID or #ID).",
    )
    add_db_option(parser)
    parser.add_argument("ref", metavar="FINGERPRINT|ALERT_ID")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=trace_command)


def trace_command(args: argparse.Namespace) -> int:
    db = open_for_command(args, read_only=True)
    try:
        result = trace(args.ref)
    finally:
        db.close()
    if args.json:
        print(terminal_json(result.as_dict(), indent=2, default=_json_default))
    else:
        print(render_trace(result))
    return 0


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _at(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value is not None else "-"


def render_trace(result: Trace) -> str:
    lines: list[str] = []
    if result.event is not None:
        lines += _event_lines(result.event)
    elif result.alerts and all(a.kind == "test" for a in result.alerts):
        lines.append("(no event: a test message sent by `mrt notify test`)")
    else:
        lines.append("(no single event: an aggregate or digest alert)")
    if not result.alerts:
        lines.append("no alert: the rules did not ask to tell anyone")
    for alert in result.alerts:
        lines += _alert_lines(alert)
    return "\n".join(lines)


def _t(value: object, max_chars: int = 300) -> str:
    """Stored upstream or error text, inert on the terminal (mrt/inert.py)."""
    return inert_text(value, max_chars=max_chars)


def _reasons(matched: list[dict[str, Any]]) -> list[str]:
    out = []
    for match in matched:
        reasons = "; ".join(str(r) for r in match.get("reasons", [])) or "matched"
        out.append(_t(f"{match.get('rule', '?')}: {reasons}", 500))
    return out


def _event_lines(event: EventInfo) -> list[str]:
    lines = [
        f"event {event.fingerprint[:16]}  {_t(event.event_type)}  {_t(event.source_key)}",
        f"  {_t(event.title)}",
    ]
    if event.url:
        lines.append(f"  {_t(event.url)}")
    version = f" (rule version {event.rule_version[:12]})" if event.rule_version else ""
    lines.append(f"  observed {_at(event.observed_at)}; decision {_t(event.decision)}{version}")
    lines += [f"  why: {_t(line, 500)}" for line in event.explanation]
    lines += [
        f"  ai: {_t(step['capability'])} by {_t(step['model'])} (prompt "
        f"{_t(step['prompt_version'])}) at {_at(step['created_at'])}"
        for step in event.ai
    ]
    if event.error:
        lines.append(f"  processing failed: {_t(event.error, 500)}")
    return lines


def _alert_lines(alert: AlertInfo) -> list[str]:
    version = f", rule version {alert.rule_version[:12]}" if alert.rule_version else ""
    lines = [f"alert #{alert.id} ({alert.kind}, {alert.priority}{version}) created {_at(alert.created_at)}"]
    lines += [f"  matched {line}" for line in _reasons(alert.matched)]
    if not alert.deliveries and alert.kind != "v0":
        lines.append(f"  NO DELIVERY: {_t(alert.undelivered or 'no outbox row', 500)}")
    for delivery in alert.deliveries:
        lines += _delivery_lines(delivery)
    return lines


def _delivery_lines(delivery: DeliveryInfo) -> list[str]:
    if delivery.status == "sent" and delivery.folded_into is not None:
        state = (
            f"sent {_at(delivery.sent_at)} inside the message of outbox #{delivery.folded_into}"
            " (a burst folded into one)"
        )
    elif delivery.status == "sent":
        state = f"sent {_at(delivery.sent_at)}"
    elif delivery.status in ("pending", "retrying"):
        state = f"{delivery.status}, next try {_at(delivery.next_attempt_at)}"
    else:
        state = delivery.status
    lines = [
        f"  -> outbox #{delivery.outbox_id} {_t(delivery.channel)} {_t(delivery.target)}: {state} "
        f"after {delivery.attempts} attempt{'s' if delivery.attempts != 1 else ''}"
    ]
    if delivery.last_error and delivery.status != "sent":
        lines.append(f"     last error: {_t(delivery.last_error, 500)}")
    for a in delivery.attempt_log:
        code = " ".join(
            part for part in (
                f"HTTP {a.http_status}" if a.http_status is not None else "",
                f"code {_t(a.vendor_code, 40)}" if a.vendor_code else "",
                _t(a.error_class or ""),
            ) if part
        )
        detail = f"  {_t(a.message, 500)}" if a.message else ""
        lines.append(f"     {_at(a.started_at)}  {a.outcome:<13} {a.duration_ms:>6} ms  {code}{detail}".rstrip())
    return lines

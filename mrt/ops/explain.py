"""What stored rows mean, in words: the decision behind an event, why an alert went to no one.

The store gives the facts (mrt.store.trace, mrt.store.views.alerts); the text lives here, one
level up, so `mrt trace` and the console's alert detail say the same thing. Call `trace` and
`alert_detail` for the facts with their words filled in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from mrt.store import trace as store_trace
from mrt.store.trace import AlertInfo, EventInfo, Trace
from mrt.store.views.alerts import AlertDetail
from mrt.store.views.alerts import alert_detail as stored_alert_detail


def trace(ref: str) -> Trace:
    """`mrt trace REF`: the stored trace (see mrt.store.trace.trace) with its words."""
    return explained(store_trace.trace(ref))


def explained(found: Trace) -> Trace:
    """`found` with each event's decision and each undelivered alert explained."""
    return dataclasses.replace(
        found,
        event=_explained_event(found.event) if found.event is not None else None,
        alerts=[_explained_alert(a) for a in found.alerts],
    )


def alert_detail(alert_id: int) -> AlertDetail | None:
    """The console's alert detail (mrt.store.views.alert_detail) with why it went to no one."""
    detail = stored_alert_detail(alert_id)
    if detail is None or not detail.went_to_no_one:
        return detail
    why = undelivered_reason(detail.channel_problems, detail.missing_channels)
    return dataclasses.replace(detail, undelivered=why)


def _explained_event(event: EventInfo) -> EventInfo:
    words = explain_decision(event.decision, event.decision_detail, event.silence)
    return dataclasses.replace(event, explanation=words)


def _explained_alert(alert: AlertInfo) -> AlertInfo:
    if not alert.went_to_no_one:
        return alert
    why = undelivered_reason(alert.channel_problems, alert.missing_channels)
    return dataclasses.replace(alert, undelivered=why)


def undelivered_reason(problems: Mapping[str, str], missing: Sequence[str]) -> str:
    """Why an alert has no outbox row, from what was recorded when it was made."""
    if problems:
        listed = "; ".join(f"{channel}: {why}" for channel, why in problems.items())
        return f"this alert went to no one ({listed})"
    if missing:
        return (
            "this alert went to no one: the rules named channels that are not configured: "
            f"{', '.join(missing)}"
        )
    return "this alert went to no one: no channel target existed when it was made"


def _because(match: dict[str, Any]) -> str:
    reasons = [str(r) for r in match.get("reasons", [])]
    rule = match.get("rule", "?")
    if not reasons:
        return f"matched rule {rule}"
    return f"matched rule {rule} because {' and '.join(reasons)}"


def _outcome(detail: dict[str, Any]) -> str | None:
    action, by = detail.get("action"), detail.get("decided_by")
    if not by or action not in ("notify", "aggregate", "digest"):
        return None
    if action == "notify":
        to = ", ".join(detail.get("channels") or []) or "no channel"
        return f"rule {by} decided: notify {to}"
    if action == "aggregate":
        window = f"{detail.get('window_minutes')} min window"
        return f"rule {by} decided: aggregate ({detail.get('group_key')}, {window})"
    return f"rule {by} decided: digest {detail.get('digest')}"


def _triage(detail: dict[str, Any]) -> list[str]:
    """AI4's part of the decision (mrt.ai_triage): the score's route, or why the rule's stood."""
    triaged = detail.get("triaged")
    if isinstance(triaged, dict):
        by = "the AI score" if triaged.get("by") == "ai" else "the rule's plain decision (fallback)"
        model = f", model {triaged['model']}" if triaged.get("model") else ""
        return [f"triage: {triaged.get('route')} by {by}{model}: {triaged.get('why')}"]
    if detail.get("triage"):
        return ["triage: not scored (AI off, or not asked yet): the rule's plain decision"]
    return []


def explain_decision(
    decision: str, detail: dict[str, Any], silence: dict[str, Any] | None = None
) -> list[str]:
    """An event's stored decision in words: which rule matched and why, or the nearest miss."""
    matched = [m for m in detail.get("matched") or [] if isinstance(m, dict)]
    lines = [_because(m) for m in matched]
    if decision == "baseline":
        return ["recorded by the source's first poll (the baseline): history, not news"]
    if decision == "seen_by_v0":
        return ["v0 had already seen it before the upgrade: not told again"]
    if decision == "silenced":
        info = silence or {}
        why = f" ({info['reason']})" if info.get("reason") else ""
        return [f"silenced by silence #{info.get('id', '?')}{why}", *lines]
    if decision == "suppress":
        return [*lines, f"suppressed by rule {detail.get('decided_by') or '?'}"]
    if decision == "none":
        nearest = detail.get("nearest")
        head = "no delivering rule matched" if lines else "no rule matched"
        lines.append(f"{head}; nearest was {nearest}" if nearest else head)
        return lines
    outcome = _outcome(detail)
    missing = detail.get("missing_channels")
    if outcome:
        lines.append(outcome)
    lines += _triage(detail)
    if missing:
        lines.append(f"channels named by the rules but not configured: {', '.join(missing)}")
    return lines

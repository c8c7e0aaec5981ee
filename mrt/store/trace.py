"""`mrt trace`'s facts: from one event (or alert) to every delivery attempt it caused.

    event (title, url, source_key, decision and why; what AI produced for it, and with which model)
      -> rule version that decided
      -> alert(s) (matched rules and reasons)
          -> every outbox row (channel, redacted target, status, attempts, next try, last error)
              -> every attempt (time, duration, outcome, HTTP status, vendor code, message)

Rows and facts only: what they mean in words (the decision explained, why an alert went to no
one) is mrt.ops.explain, which `mrt trace` and the console both call.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from mrt.errors import MrtError
from mrt.store.models import (
    AiCacheEntry,
    Alert,
    AlertEvent,
    DeliveryAttempt,
    Event,
    Outbox,
    RuleVersion,
    Silence,
)

MIN_PREFIX = 8
_HEX = re.compile(r"^[0-9a-f]+$")


@dataclass(frozen=True, slots=True)
class AttemptInfo:
    id: int
    started_at: datetime
    duration_ms: int
    outcome: str
    http_status: int | None
    vendor_code: str | None
    error_class: str | None
    message: str | None


@dataclass(frozen=True, slots=True)
class DeliveryInfo:
    outbox_id: int
    channel: str
    target: str  # the redacted key: never the secret URL
    status: str
    attempts: int
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None
    attempt_log: list[AttemptInfo] = field(default_factory=list)
    folded_into: int | None = None  # sent inside the message of this outbox row (a burst)


@dataclass(frozen=True, slots=True)
class AlertInfo:
    id: int
    kind: str
    title: str
    priority: str
    created_at: datetime
    matched: list[dict[str, Any]]
    rule_version: str | None  # digest of the rule set that decided
    deliveries: list[DeliveryInfo] = field(default_factory=list)
    went_to_no_one: bool = False  # no outbox row at all (and not v0's): never silent
    channel_problems: dict[str, str] = field(default_factory=dict)  # channel -> why no row
    missing_channels: list[str] = field(default_factory=list)  # named by rules, not configured
    undelivered: str | None = None  # that in words (mrt.ops.explain fills it)


@dataclass(frozen=True, slots=True)
class EventInfo:
    id: int
    fingerprint: str
    title: str
    url: str
    source_key: str
    event_type: str
    observed_at: datetime
    decision: str
    decision_detail: dict[str, Any]
    rule_version: str | None
    error: str | None
    silence: dict[str, Any] | None = None  # the silence that muted it: id, reason, by, until
    explanation: list[str] = field(default_factory=list)  # the decision in words (mrt.ops.explain)
    # what AI produced for it (schema v11): [{capability, model, prompt_version, created_at}]
    ai: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Trace:
    ref: str
    event: EventInfo | None
    alerts: list[AlertInfo]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def trace(ref: str) -> Trace:
    """Resolve `ref` (fingerprint, unique prefix of >= 8 hex chars, alert id) and follow it."""
    text = ref.strip().lower()
    alert_id = _alert_id(text)
    if alert_id is not None and (len(text) < MIN_PREFIX or text.startswith(("alert:", "#"))):
        return _trace_alert(ref, alert_id)
    event = _find_event(text)
    if event is None and alert_id is not None:
        return _trace_alert(ref, alert_id)
    if event is None:
        raise MrtError(
            f"no event has the fingerprint {ref!r} and no alert has that id; give a full "
            f"fingerprint, a unique prefix of at least {MIN_PREFIX} characters, or an alert id "
            "(see `mrt outbox` for fingerprints and alert ids)",
            title="Not found",
        )
    return Trace(ref=ref, event=_event_info(event), alerts=[_alert_info(a) for a in _alerts_of(event)])


def _alert_id(text: str) -> int | None:
    bare = text.removeprefix("alert:").removeprefix("#")
    return int(bare) if bare.isdigit() else None


def _find_event(text: str) -> Event | None:
    exact = Event.get_or_none((Event.fingerprint == text) | (Event.legacy_fingerprint == text))
    if exact is not None or len(text) < MIN_PREFIX or not _HEX.match(text):
        return exact
    matches = list(Event.select().where(Event.fingerprint.startswith(text)).limit(2))
    if len(matches) > 1:
        raise MrtError(
            f"the prefix {text!r} matches more than one event; give more characters",
            title="Ambiguous fingerprint",
        )
    return matches[0] if matches else None


def _trace_alert(ref: str, alert_id: int) -> Trace:
    alert = Alert.get_or_none(Alert.id == alert_id)
    if alert is None:
        raise MrtError(f"there is no alert with id {alert_id}", title="Not found")
    event = _event_of(alert)
    return Trace(
        ref=ref, event=_event_info(event) if event is not None else None, alerts=[_alert_info(alert)]
    )


def _alerts_of(event: Event) -> list[Alert]:
    members = AlertEvent.select(AlertEvent.alert).where(AlertEvent.event == event.id)
    query = Alert.select().where((Alert.event == event.id) | Alert.id.in_(members))
    return list(query.order_by(Alert.id))


def _digest(rule_version_id: Any) -> str | None:
    if rule_version_id is None:
        return None
    version = RuleVersion.get_or_none(RuleVersion.id == rule_version_id)
    return str(version.digest) if version is not None else None


def _silence_info(event: Event, detail: dict[str, Any]) -> dict[str, Any] | None:
    silence_id = event.__data__.get("silence")
    row = Silence.get_or_none(Silence.id == silence_id) if silence_id is not None else None
    if row is None:  # deleted since (SET NULL): the decision detail still names it
        stored = detail.get("silence")
        return dict(stored) if isinstance(stored, dict) else None
    return {
        "id": int(row.id), "reason": row.reason, "created_by": row.created_by,
        "matcher": row.matcher, "expires_at": row.expires_at.isoformat(),
    }


def _event_info(event: Event) -> EventInfo:
    detail = dict(event.decision_detail or {})
    silence = _silence_info(event, detail)
    return EventInfo(
        id=int(event.id), fingerprint=event.fingerprint, title=event.title, url=event.url,
        source_key=event.source_key, event_type=event.event_type, observed_at=event.observed_at,
        decision=event.decision, decision_detail=detail,
        rule_version=_digest(event.__data__.get("rule_version")), error=event.error,
        silence=silence, ai=_ai_steps(event.fingerprint),
    )


def _ai_steps(fingerprint: str) -> list[dict[str, Any]]:
    rows = (
        AiCacheEntry.select()
        .where(AiCacheEntry.fingerprint == fingerprint)
        .order_by(AiCacheEntry.created_at, AiCacheEntry.id)
    )
    return [
        {"capability": r.capability, "model": r.model, "prompt_version": r.prompt_version,
         "created_at": r.created_at}
        for r in rows
    ]


def channel_problems(alert: Alert) -> dict[str, str]:
    """Why each channel got no outbox row when the alert was made (recorded in its payload)."""
    problems = (alert.payload or {}).get("channel_problems")
    if not isinstance(problems, dict):
        return {}
    return {str(channel): str(why) for channel, why in problems.items()}


def missing_channels(alert: Alert, event: Event | None = None) -> list[str]:
    """The channels the alert was meant for that had no target when it was planned
    (mrt/alerting.py records them on the alert); alerts stored before that have them only in
    their event's decision detail. `event`: the alert's event, when the caller has it."""
    recorded = (alert.payload or {}).get("missing_channels")
    if not recorded:
        event_id = alert.__data__.get("event")
        if event is None and event_id is not None:
            event = Event.get_or_none(Event.id == event_id)
        recorded = (event.decision_detail or {}).get("missing_channels") if event else None
    return [str(c) for c in recorded or ()]


def _event_of(alert: Alert) -> Event | None:
    event_id = alert.__data__.get("event")
    return Event.get_or_none(Event.id == event_id) if event_id is not None else None


def _alert_info(alert: Alert) -> AlertInfo:
    rows = list(Outbox.select().where(Outbox.alert == alert.id).order_by(Outbox.id))
    return AlertInfo(
        id=int(alert.id), kind=alert.kind, title=alert.title, priority=alert.priority,
        created_at=alert.created_at, matched=list(alert.matched or []),
        rule_version=_digest(alert.__data__.get("rule_version")),
        deliveries=[_delivery_info(row) for row in rows],
        went_to_no_one=not rows and alert.kind != "v0",
        channel_problems=channel_problems(alert),
        missing_channels=missing_channels(alert),
    )


def _delivery_info(row: Outbox) -> DeliveryInfo:
    attempts = DeliveryAttempt.select().where(DeliveryAttempt.outbox == row.id)
    return DeliveryInfo(
        outbox_id=int(row.id), channel=row.channel, target=row.target, status=row.status,
        attempts=int(row.attempts), next_attempt_at=row.next_attempt_at, sent_at=row.sent_at,
        last_error=row.last_error,
        folded_into=None if row.folded_into is None else int(row.folded_into),
        attempt_log=[
            AttemptInfo(
                id=int(a.id), started_at=a.started_at, duration_ms=int(a.duration_ms),
                outcome=a.outcome, http_status=a.http_status, vendor_code=a.vendor_code,
                error_class=a.error_class, message=a.message,
            )
            for a in attempts.order_by(DeliveryAttempt.started_at, DeliveryAttempt.id)
        ],
    )

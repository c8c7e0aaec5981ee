"""What the AI enhancements keep: produced texts by (fingerprint, capability, model, prompt
version), the first tries of event alerts waiting for a summary, and the endpoint's health.

    cached(fp, capability, model, version) -> str | None
    remember(fp, capability, model, version, text, now)
    awaiting_summary(since) -> [AwaitingDelivery]   first tries of event alerts created since
    hold(rows, until)              a row waits at most until `until` (then the plain text goes)
    rewrite(row, subject, body, now) -> bool   the row's text, only while nobody sent it
    release(rows, now)             a held row is due now (no summary is coming)
    triage_pending(decision) -> bool   a triage rule's alert not routed by its score yet
    record_triage(event_id, detail)    the routed decision, for `mrt trace` and `mrt events`
    to_digest(row, digest, detail, now) -> bool   an untried alert moves to its rule's digest
    mark_degraded(error, now) -> bool   True once per degradation: tell the operators now
    mark_healthy(now) -> bool      True when it was degraded

A held or rewritten row is one still `pending` with no attempt and no lease: a row a sender has
claimed or sent is never touched, so a summary that arrives late changes nothing and nothing is
sent twice. The mrt.ai_hooks module drives these (mrt.ai itself never touches the store).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import peewee

from mrt.store.models import AiCacheEntry, AiStatus, Alert, Event, Outbox
from mrt.store.noise import add_digest_item

STATUS_ID = 1


def cached(fingerprint: str, capability: str, model: str, prompt_version: str) -> str | None:
    row = AiCacheEntry.get_or_none(
        (AiCacheEntry.fingerprint == fingerprint)
        & (AiCacheEntry.capability == capability)
        & (AiCacheEntry.model == model)
        & (AiCacheEntry.prompt_version == prompt_version)
    )
    return None if row is None else str(row.text)


def remember(
    fingerprint: str, capability: str, model: str, prompt_version: str, text: str, now: datetime
) -> None:
    """Store a produced text; a second worker that produced the same one keeps the first."""
    AiCacheEntry.insert(
        fingerprint=fingerprint,
        capability=capability,
        model=model,
        prompt_version=prompt_version,
        text=text,
        created_at=now,
    ).on_conflict_ignore().execute()


@dataclass(frozen=True, slots=True)
class AwaitingDelivery:
    outbox_id: int
    alert_id: int
    channel: str
    created_at: datetime
    next_attempt_at: datetime
    event: Event  # the stored event row (mrt.store.history.tracker_event reads it back)
    decision: dict[str, Any]  # the event's decision detail (Decision.as_json())


def _first_try() -> Any:
    return (Outbox.status == "pending") & (Outbox.attempts == 0) & (Outbox.lease_owner.is_null())


def awaiting_summary(since: datetime) -> list[AwaitingDelivery]:
    """First tries, not yet claimed, of single-event alerts a rule notified, created since."""
    query = (
        Outbox.select(Outbox, Alert, Event)
        .join(Alert, on=(Outbox.alert == Alert.id))
        .join(Event, on=(Alert.event == Event.id))
        .where(
            _first_try()
            & (Outbox.created_at >= since)
            & (Alert.kind == "event")
            & (Event.decision == "notify")
        )
        .order_by(Outbox.id)
    )
    found: list[AwaitingDelivery] = []
    for row in query:
        alert: Alert = row.alert
        event: Event | None = alert.event
        if event is None:  # the join makes this impossible; the model allows it
            continue
        found.append(
            AwaitingDelivery(
                outbox_id=int(row.id),
                alert_id=int(alert.id),
                channel=str(row.channel),
                created_at=row.created_at,
                next_attempt_at=row.next_attempt_at,
                event=event,
                decision=dict(event.decision_detail or {}),
            )
        )
    return found


def hold(rows: list[AwaitingDelivery], until: datetime) -> int:
    """Rows not yet due before `until` wait until then; returns how many were held."""
    ids = [r.outbox_id for r in rows]
    if not ids:
        return 0
    return int(
        Outbox.update(next_attempt_at=until)
        .where(Outbox.id.in_(ids) & _first_try() & (Outbox.next_attempt_at < until))
        .execute()
    )


def rewrite(row: AwaitingDelivery, subject: str, body: str, now: datetime) -> bool:
    """The row's text becomes `subject`/`body`, due now; False when a sender got it first."""
    return bool(
        Outbox.update(subject=subject, body=body, next_attempt_at=now, updated_at=now)
        .where((Outbox.id == row.outbox_id) & _first_try())
        .execute()
    )


def release(rows: list[AwaitingDelivery], now: datetime) -> int:
    """Held rows are due now, with the text they have."""
    ids = [r.outbox_id for r in rows]
    if not ids:
        return 0
    return int(
        Outbox.update(next_attempt_at=now)
        .where(Outbox.id.in_(ids) & _first_try() & (Outbox.next_attempt_at > now))
        .execute()
    )


def triage_pending(decision: dict[str, Any]) -> bool:
    """The event's rule triages (Decision.triage) and no score has routed it yet."""
    return bool(decision.get("triage")) and "triaged" not in decision


def record_triage(event_id: int, detail: dict[str, Any]) -> None:
    Event.update(decision_detail=detail).where(Event.id == event_id).execute()


def to_digest(row: AwaitingDelivery, digest: str, detail: dict[str, Any], now: datetime) -> bool:
    """The alert, while none of its deliveries was tried or taken, leaves the outbox and its
    event goes to `digest` instead; False (nothing changed) when a sender got one first."""
    rows = list(Outbox.select(Outbox.status, Outbox.attempts, Outbox.lease_owner).where(
        Outbox.alert == row.alert_id
    ))
    if any(r.status != "pending" or r.attempts or r.lease_owner is not None for r in rows):
        return False
    Outbox.delete().where((Outbox.alert == row.alert_id) & _first_try()).execute()
    Alert.delete().where(Alert.id == row.alert_id).execute()
    Event.update(decision="digest", decision_detail=detail).where(
        Event.id == row.event.id
    ).execute()
    add_digest_item(digest, int(row.event.id), now)
    return True


def _status(now: datetime) -> AiStatus:
    row = AiStatus.get_or_none(AiStatus.id == STATUS_ID)
    if row is None:
        AiStatus.insert(id=STATUS_ID, updated_at=now).on_conflict_ignore().execute()
        row = AiStatus.get_by_id(STATUS_ID)
    return row


def mark_degraded(error: str, now: datetime) -> bool:
    """Record a failure; True when this degradation has not been told to the operators yet
    (the caller tells them, in the same transaction)."""
    row = _status(now)
    first = row.notified_at is None
    (
        AiStatus.update(
            degraded_since=peewee.fn.COALESCE(AiStatus.degraded_since, now),
            last_error=error,
            notified_at=peewee.fn.COALESCE(AiStatus.notified_at, now),
            updated_at=now,
        )
        .where(AiStatus.id == STATUS_ID)
        .execute()
    )
    return first


def mark_healthy(now: datetime) -> bool:
    """The endpoint answered; True when it had been degraded (a later failure is told again)."""
    row = AiStatus.get_or_none(AiStatus.id == STATUS_ID)
    if row is None or row.degraded_since is None:
        return False
    AiStatus.update(degraded_since=None, notified_at=None, last_error=None, updated_at=now).where(
        AiStatus.id == STATUS_ID
    ).execute()
    return True


def degraded_since() -> datetime | None:
    row = AiStatus.get_or_none(AiStatus.id == STATUS_ID)
    return None if row is None else row.degraded_since


@dataclass(frozen=True, slots=True)
class ClusteredEvent:
    fingerprint: str
    title: str
    cluster: str


def recent_clusters(since: datetime, limit: int = 2000) -> list[ClusteredEvent]:
    """Events observed since `since` that carry a cluster (details.cluster), oldest first; at
    most the `limit` newest (a window of a hostile flood is not compared event by event)."""
    rows = (
        Event.select(Event.fingerprint, Event.title, Event.details)
        .where(Event.observed_at >= since)
        .order_by(Event.id.desc())
        .limit(limit)
    )
    found = [
        ClusteredEvent(r.fingerprint, r.title, str(r.details["cluster"]))
        for r in rows
        if isinstance(r.details, dict) and r.details.get("cluster")
    ]
    return found[::-1]

"""The queries behind less noise: aggregation buckets, digest items and schedules, dedupe.

Writers here run inside the caller's write transaction (the cycle's, or a flush's): none of
them opens one, so an event and its bucket membership or digest item are committed together.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from mrt.store.models import (
    AggregateBucket,
    AggregateMember,
    Alert,
    AlertEvent,
    DigestItem,
    DigestSchedule,
    Event,
)


@dataclass(frozen=True, slots=True)
class FoldTarget:
    """The alert a repeated update of a resource was folded into."""

    alert_id: int
    fingerprint: str | None


def stored_decisions(fingerprints: Iterable[str]) -> dict[str, tuple[int, str]]:
    """{fingerprint: (event id, stored decision)} of the stored events among `fingerprints`."""
    wanted = list(dict.fromkeys(fingerprints))
    found: dict[str, tuple[int, str]] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        query = Event.select(Event.id, Event.fingerprint, Event.decision).where(
            Event.fingerprint.in_(chunk)
        )
        found.update((row.fingerprint, (int(row.id), str(row.decision))) for row in query)
    return found


# --- aggregation -------------------------------------------------------------------------------


def add_to_bucket(
    event_id: int,
    group_key: str,
    channels: Sequence[str],
    window_minutes: int,
    now: datetime,
) -> int:
    """Put an event into the open bucket of its group key (opening one if none); its id.

    A bucket is open while unflushed and its window has not ended at `now`. Idempotent: an
    event already in a bucket stays where it is.

    Several workers: the open bucket carries `open_key` (the group key) under a unique index,
    and is opened by INSERT ... ON CONFLICT DO NOTHING. Two cycles opening one group's bucket
    at once: PostgreSQL makes the second insert wait for the first's commit and then do
    nothing, so the second cycle joins the first's bucket (SQLite's writer lock orders them).
    """
    member = AggregateMember.get_or_none(AggregateMember.event == event_id)
    if member is not None:
        return int(member.__data__["bucket"])
    bucket = open_bucket(group_key)
    if bucket is not None and bucket.window_end <= now:
        # its window ended: it takes no more members and waits for its flush; a new one opens
        AggregateBucket.update(open_key=None).where(AggregateBucket.id == bucket.id).execute()
        bucket = None
    if bucket is None:
        AggregateBucket.insert(
            group_key=group_key,
            open_key=group_key,
            channels=list(dict.fromkeys(channels)),
            window_end=now + timedelta(minutes=window_minutes),
            created_at=now,
        ).on_conflict_ignore().execute()
        # ours, or the one another cycle committed first
        bucket = AggregateBucket.get(AggregateBucket.open_key == group_key)
    else:
        merged = list(dict.fromkeys([*bucket.channels, *channels]))
        if merged != list(bucket.channels):
            AggregateBucket.update(channels=merged).where(AggregateBucket.id == bucket.id).execute()
    AggregateMember.insert(bucket=bucket.id, event=event_id).execute()
    return int(bucket.id)


def open_bucket(group_key: str) -> AggregateBucket | None:
    """The group's open bucket (its window may have ended: then it waits for its flush)."""
    bucket: AggregateBucket | None = AggregateBucket.get_or_none(
        AggregateBucket.open_key == group_key
    )
    return bucket


def due_bucket_ids(now: datetime) -> list[int]:
    """Unflushed buckets whose window ended at or before `now`, oldest first (indexed)."""
    query = (
        AggregateBucket.select(AggregateBucket.id)
        .where(AggregateBucket.flushed_at.is_null() & (AggregateBucket.window_end <= now))
        .order_by(AggregateBucket.window_end, AggregateBucket.id)
    )
    return [int(row.id) for row in query]


def claim_bucket(bucket_id: int, now: datetime) -> AggregateBucket | None:
    """Mark the bucket flushed and return it, unless someone already did (then None).

    The conditional UPDATE is the claim: on PostgreSQL a second worker's UPDATE waits for the
    first's transaction and then matches nothing; on SQLite the writer lock orders them.
    """
    claimed = (
        AggregateBucket.update(flushed_at=now, open_key=None)
        .where((AggregateBucket.id == bucket_id) & AggregateBucket.flushed_at.is_null())
        .execute()
    )
    if not claimed:
        return None
    bucket: AggregateBucket = AggregateBucket.get_by_id(bucket_id)
    return bucket


def bucket_members(bucket_id: int) -> list[Event]:
    """The bucket's events in the order they were observed."""
    return list(
        Event.select()
        .join(AggregateMember, on=(AggregateMember.event == Event.id))
        .where(AggregateMember.bucket == bucket_id)
        .order_by(Event.observed_at, Event.id)
    )


def set_bucket_alert(bucket_id: int, alert_id: int) -> None:
    AggregateBucket.update(alert=alert_id).where(AggregateBucket.id == bucket_id).execute()


def bucket_of(event_id: int) -> AggregateBucket | None:
    """The bucket an event was aggregated into, if any (for traces and tests)."""
    bucket: AggregateBucket | None = (
        AggregateBucket.select()
        .join(AggregateMember, on=(AggregateMember.bucket == AggregateBucket.id))
        .where(AggregateMember.event == event_id)
        .first()
    )
    return bucket


def link_members(alert_id: int, event_ids_: Iterable[int]) -> int:
    """AlertEvent rows for an aggregate's or digest's members (existing links are kept)."""
    rows = [{"alert": alert_id, "event": eid} for eid in dict.fromkeys(event_ids_)]
    for start in range(0, len(rows), 200):
        AlertEvent.insert_many(rows[start : start + 200]).on_conflict_ignore().execute()
    return len(rows)


# --- digests -----------------------------------------------------------------------------------


def add_digest_item(digest: str, event_id: int, now: datetime) -> int:
    """Queue an event for a named digest; idempotent per (digest, event)."""
    existing = DigestItem.get_or_none(
        (DigestItem.digest == digest) & (DigestItem.event == event_id)
    )
    if existing is not None:
        return int(existing.id)
    return int(DigestItem.create(digest=digest, event=event_id, created_at=now).id)


def pending_digest_items(digest: str, *, until: datetime) -> list[tuple[DigestItem, Event]]:
    """Unsent items of `digest` queued at or before `until`, oldest first, with their events."""
    query = (
        DigestItem.select(DigestItem, Event)
        .join(Event, on=(DigestItem.event == Event.id))
        .where(
            (DigestItem.digest == digest)
            & DigestItem.sent_at.is_null()
            & (DigestItem.created_at <= until)
        )
        .order_by(DigestItem.created_at, DigestItem.id)
    )
    return [(item, item.event) for item in query]


def earliest_pending_digest_item(digest: str) -> datetime | None:
    first = (
        DigestItem.select(DigestItem.created_at)
        .where((DigestItem.digest == digest) & DigestItem.sent_at.is_null())
        .order_by(DigestItem.created_at)
        .first()
    )
    return None if first is None else first.created_at


def digest_last_fired(digest: str) -> datetime | None:
    row = DigestSchedule.get_or_none(DigestSchedule.digest == digest)
    return None if row is None else row.last_fired_at


def claim_digest_firing(digest: str, fired: datetime, now: datetime) -> bool:
    """Record that `digest` fires at `fired`; True for the one caller that records it.

    Due means: `fired` is later than the recorded firing, or (never recorded) not earlier than
    the first queued item. The conditional UPDATE is the claim (a second worker's waits for
    the first's commit, then matches nothing); a first record is INSERT ... ON CONFLICT DO
    NOTHING, so of two workers recording it at once, the one whose row went in fires.
    """
    moved = (
        DigestSchedule.update(last_fired_at=fired, updated_at=now)
        .where((DigestSchedule.digest == digest) & (DigestSchedule.last_fired_at < fired))
        .execute()
    )
    if moved:
        return True
    if DigestSchedule.get_or_none(DigestSchedule.digest == digest) is not None:
        return False
    earliest = earliest_pending_digest_item(digest)
    if earliest is not None and fired < earliest:
        return False
    inserted = (
        DigestSchedule.insert(digest=digest, last_fired_at=fired, updated_at=now)
        .on_conflict_ignore()
        .as_rowcount()
        .execute()
    )
    return bool(inserted)


def set_digest_alert(digest: str, alert_id: int) -> None:
    """The last digest alert sent (for the operator's view)."""
    DigestSchedule.update(alert=alert_id).where(DigestSchedule.digest == digest).execute()


def mark_digest_items_sent(item_ids: Sequence[int], alert_id: int, now: datetime) -> None:
    for start in range(0, len(item_ids), 500):
        chunk = list(item_ids[start : start + 500])
        DigestItem.update(sent_at=now, alert=alert_id).where(DigestItem.id.in_(chunk)).execute()


# --- dedupe ------------------------------------------------------------------------------------


def recent_resource_alert(source_key: str, resource_id: str, since: datetime) -> FoldTarget | None:
    """The newest single-event alert on this resource created after `since` (indexed)."""
    row = (
        Alert.select(Alert.id, Alert.fingerprint)
        .join(Event, on=(Alert.event == Event.id))
        .where(
            (Event.source_key == source_key)
            & (Event.resource_id == resource_id)
            & (Alert.kind == "event")
            & (Alert.created_at > since)
        )
        .order_by(Alert.created_at.desc(), Alert.id.desc())
        .first()
    )
    return None if row is None else FoldTarget(int(row.id), row.fingerprint)


def event_alert_id(fingerprint: str) -> int | None:
    """The single-event alert made from the event with this fingerprint."""
    row = (
        Alert.select(Alert.id)
        .where((Alert.fingerprint == fingerprint) & (Alert.kind == "event"))
        .order_by(Alert.id)
        .first()
    )
    return None if row is None else int(row.id)


def record_fold(event_id: int, alert_id: int) -> None:
    """A deduped event: linked to the alert it was folded into, and the id kept in its detail."""
    AlertEvent.insert(alert=alert_id, event=event_id).on_conflict_ignore().execute()
    event = Event.get_by_id(event_id)
    detail = dict(event.decision_detail or {})
    detail["deduped_into_alert"] = alert_id
    Event.update(decision_detail=detail).where(Event.id == event_id).execute()


def waiting_event_ids(event_ids: Iterable[int]) -> set[int]:
    """Those of `event_ids` still waiting in an open bucket or an unsent digest item.

    They will be told when their window ends or their digest fires: a replay must not send
    them on their own as well.
    """
    wanted = list(dict.fromkeys(event_ids))
    waiting: set[int] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        in_buckets = (
            AggregateMember.select(AggregateMember.event)
            .join(AggregateBucket, on=(AggregateMember.bucket == AggregateBucket.id))
            .where(AggregateMember.event.in_(chunk) & AggregateBucket.flushed_at.is_null())
        )
        waiting.update(int(row.__data__["event"]) for row in in_buckets)
        queued = DigestItem.select(DigestItem.event).where(
            DigestItem.event.in_(chunk) & DigestItem.sent_at.is_null()
        )
        waiting.update(int(row.__data__["event"]) for row in queued)
    return waiting

"""Silences, as in Alertmanager: a matcher and an expiry; what they match is recorded, not told.

This module keeps the rows: create, expire, and which are active at a moment. What a matcher
matches is mrt.rules.silences (compile_matcher validates one, compile_active compiles the
active rows for a cycle): the store never runs rule conditions. A silence only mutes what the
rules would have told (notify, aggregate, digest); the event is stored with decision
"silenced" and `Event.silence` pointing here, so `mrt trace` shows it and `mrt replay` can
still deliver it later.

A silence is active from `created_at` until `expires_at` (exclusive), or until it is expired
early (`expired_early_at`). The operator's create and expire are mrt.ops.silences, which audits
them in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from mrt.errors import ConfigError, MrtError
from mrt.store.models import Silence


def is_active(silence: Silence, now: datetime) -> bool:
    ended = silence.expired_early_at
    return silence.created_at <= now < silence.expires_at and (ended is None or now < ended)


def ends_at(silence: Silence) -> datetime:
    """When the silence stopped (or will stop) matching."""
    ended: datetime | None = silence.expired_early_at
    expires: datetime = silence.expires_at
    return ended if ended is not None and ended < expires else expires


def create_silence(
    matcher: Mapping[str, Any],
    *,
    expires_at: datetime,
    created_by: str,
    reason: str | None,
    now: datetime,
) -> int:
    """Store a silence; returns its id (mrt.ops.silences.create audits it).

    The caller validates `matcher` first with mrt.rules.silences.compile_matcher (the store
    does not know the rules' vocabulary); an empty one is refused here too, since it would mute
    every alert.
    """
    if not isinstance(matcher, Mapping) or not matcher:
        raise ConfigError(
            "a silence needs at least one matcher (one that matches everything would mute "
            "every alert)",
            path="silence.matcher",
        )
    if expires_at <= now:
        raise ConfigError(
            f"the silence would expire at {expires_at.isoformat()}, which is not after now "
            f"({now.isoformat()}); give a duration such as 2h or a later date",
            path="silence.expires_at",
        )
    row = Silence.create(
        matcher=dict(matcher),
        created_at=now,
        expires_at=expires_at,
        created_by=created_by,
        reason=reason,
    )
    return int(row.id)


def expire_silence(silence_id: int, now: datetime) -> Silence:
    """End a silence now (it stops matching at `now`); mrt.ops.silences.expire audits it."""
    row = Silence.get_or_none(Silence.id == silence_id)
    if row is None:
        raise MrtError(
            f"there is no silence #{silence_id} (see `mrt silence list --all`)", title="Not found"
        )
    if not is_active(row, now):
        raise MrtError(
            f"silence #{silence_id} is not active: it ended at {ends_at(row).isoformat()}",
            title="Already expired",
        )
    row.expired_early_at = now
    row.save()
    return row


def active_silences(now: datetime) -> list[Silence]:
    """Silences that match at `now`, oldest first."""
    query = Silence.select().where(
        (Silence.created_at <= now)
        & (Silence.expires_at > now)
        & (Silence.expired_early_at.is_null() | (Silence.expired_early_at > now))
    )
    return list(query.order_by(Silence.id))


def list_silences(now: datetime, *, include_ended: bool = False) -> list[Silence]:
    """Active silences, or with `include_ended` every one ever made; newest first."""
    if not include_ended:
        return list(reversed(active_silences(now)))
    return list(Silence.select().order_by(Silence.id.desc()))

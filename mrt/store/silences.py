"""Silences, as in Alertmanager: a matcher and an expiry; what they match is recorded, not told.

A matcher is written in the rules' own condition vocabulary (`source`, `source_key` globs,
`resource_id` globs, `event_type`, `keywords`, `regex`, `authors`, `labels`, `tags`,
`priority`, and `all`/`any`/`not`) and compiled by mrt.rules.parse, so a silence matches exactly
what a rule with the same `when:` would. A silence only mutes what the rules would have told
(notify, aggregate, digest); the event is stored with decision "silenced" and `Event.silence`
pointing here, so `mrt trace` shows it and `mrt replay` can still deliver it later.

A silence is active from `created_at` until `expires_at` (exclusive), or until it is expired
early (`expired_early_at`). The operator's create and expire are mrt.ops.silences, which audits
them in the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mrt.config import AggregationConfig
from mrt.errors import ConfigError, MrtError
from mrt.events import TrackerEvent
from mrt.rules.conditions import Condition
from mrt.rules.fields import EventView
from mrt.rules.parse import ParseContext, parse_condition
from mrt.store.models import Silence

log = logging.getLogger(__name__)

MATCHER_PATH = "silence.matcher"


def compile_matcher(matcher: Mapping[str, Any]) -> Condition:
    """The matcher as a rule condition; ConfigError (naming the key) when it is not a valid one."""
    if not isinstance(matcher, Mapping) or not matcher:
        raise ConfigError(
            "a silence needs at least one matcher, e.g. source_key=github:vllm-project/* "
            "or keywords=deepseek (a silence that matches everything would mute every alert)",
            path=MATCHER_PATH,
        )
    ctx = ParseContext(file=None, aggregation=AggregationConfig())
    return parse_condition(dict(matcher), MATCHER_PATH, ctx)


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
    """Store a silence (the matcher is validated first); returns its id."""
    compile_matcher(matcher)
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
    """End a silence now (it stops matching at `now`)."""
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


@dataclass(frozen=True)
class ActiveSilences:
    """The silences active at one moment, compiled once (a cycle checks many events)."""

    compiled: tuple[tuple[Silence, Condition], ...]

    def match(
        self,
        event: TrackerEvent,
        *,
        tags: Sequence[str] = (),
        priority: str | None = None,
    ) -> Silence | None:
        """The oldest silence that matches; tags and priority are what the rules gave the event."""
        if not self.compiled:
            return None
        view = EventView(event)
        view.tags.update(dict.fromkeys(tags))
        if priority is not None:
            view.priority = priority
        for silence, condition in self.compiled:
            if condition.test(view):
                return silence
        return None


def load_active(now: datetime) -> ActiveSilences:
    """Every active silence, compiled. A stored matcher that no longer compiles (a rules
    engine change) is skipped rather than stopping the cycle: it can only have muted less."""
    compiled: list[tuple[Silence, Condition]] = []
    for silence in active_silences(now):
        try:
            compiled.append((silence, compile_matcher(silence.matcher)))
        except ConfigError as exc:
            log.warning(
                "silence #%s is skipped, its matcher no longer compiles: %s", silence.id, exc
            )
            continue
    return ActiveSilences(tuple(compiled))


def matching_silence(
    event: TrackerEvent, now: datetime, *, tags: Sequence[str] = (), priority: str | None = None
) -> Silence | None:
    """The silence that mutes `event` at `now`, if any."""
    return load_active(now).match(event, tags=tags, priority=priority)

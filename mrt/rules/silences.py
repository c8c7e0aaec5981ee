"""What a silence matches: its matcher compiled into a rule condition (rows live in the store).

A matcher is written in the rules' own condition vocabulary (`source`, `source_key` globs,
`resource_id` globs, `event_type`, `keywords`, `regex`, `authors`, `labels`, `tags`,
`priority`, and `all`/`any`/`not`) and compiled by mrt.rules.parse, so a silence matches exactly
what a rule with the same `when:` would. The rows (create, expire, which are active at a
moment) are mrt.store.silences; this module never touches the database: the caller hands it
the active rows (`compile_active(silences.active_silences(now))`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from mrt.config import AggregationConfig
from mrt.errors import ConfigError
from mrt.events import TrackerEvent
from mrt.rules.conditions import Condition
from mrt.rules.fields import EventView
from mrt.rules.parse import ParseContext, parse_condition

log = logging.getLogger(__name__)

MATCHER_PATH = "silence.matcher"


class SilenceRow(Protocol):
    """What matching needs of a stored silence (mrt.store.models.Silence has it)."""

    @property
    def id(self) -> int: ...

    @property
    def matcher(self) -> Mapping[str, Any]: ...

    @property
    def reason(self) -> str | None: ...


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


@dataclass(frozen=True)
class ActiveSilences:
    """The silences active at one moment, compiled once (a cycle checks many events)."""

    compiled: tuple[tuple[SilenceRow, Condition], ...]

    def match(
        self,
        event: TrackerEvent,
        *,
        tags: Sequence[str] = (),
        priority: str | None = None,
    ) -> SilenceRow | None:
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


def compile_active(silences: Iterable[SilenceRow]) -> ActiveSilences:
    """The given (active, oldest first) silences, compiled. A stored matcher that no longer
    compiles (a rules engine change) is skipped rather than stopping the cycle: it can only
    have muted less."""
    compiled: list[tuple[SilenceRow, Condition]] = []
    for silence in silences:
        try:
            compiled.append((silence, compile_matcher(silence.matcher)))
        except ConfigError as exc:
            log.warning(
                "silence #%s is skipped, its matcher no longer compiles: %s", silence.id, exc
            )
            continue
    return ActiveSilences(tuple(compiled))

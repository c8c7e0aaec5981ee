"""Rule evaluation. v0's watch_keywords as one keyword rule that notifies every channel."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mrt.config import Config
from mrt.events import TrackerEvent


@dataclass(frozen=True, slots=True)
class RuleMatch:
    rule: str
    reasons: tuple[str, ...]  # "title contained 'DeepSeek'"


@dataclass(frozen=True, slots=True)
class Decision:
    action: str  # notify | suppress | aggregate | digest | none
    channels: tuple[str, ...] = ()
    priority: str = "normal"
    tags: tuple[str, ...] = ()
    matched: tuple[RuleMatch, ...] = ()
    template: str | None = None
    group_key: str | None = None
    window_minutes: int | None = None
    digest: str | None = None
    nearest: str | None = None  # when nothing matched: the closest rule and why it missed

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "channels": list(self.channels),
            "priority": self.priority,
            "tags": list(self.tags),
            "matched": [{"rule": m.rule, "reasons": list(m.reasons)} for m in self.matched],
            "group_key": self.group_key,
            "digest": self.digest,
            "nearest": self.nearest,
        }


@dataclass(frozen=True)
class RuleSet:
    keywords: tuple[str, ...]
    channels: tuple[str, ...]
    canonical: dict[str, Any] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        text = json.dumps(self.canonical, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def evaluate(self, event: TrackerEvent, *, now: datetime | None = None) -> Decision:
        haystack = f"{event.title}\n{event.summary}".lower()
        reasons = tuple(
            f"title or summary contained {kw!r}" for kw in self.keywords if kw.lower() in haystack
        )
        if not reasons:
            return Decision(action="none")
        return Decision(
            action="notify",
            channels=self.channels,
            matched=(RuleMatch(rule="watch_keywords", reasons=reasons),),
        )


def channel_names(config: Config) -> tuple[str, ...]:
    names = list(config.channels)
    names += [n for n in ("welink", "email") if getattr(config.notify, n) is not None]
    return tuple(dict.fromkeys(names))


def compile_rules(config: Config) -> RuleSet:
    keywords = tuple(config.watch_keywords)
    channels = channel_names(config)
    return RuleSet(
        keywords=keywords,
        channels=channels,
        canonical={"watch_keywords": list(keywords), "channels": list(channels)},
    )

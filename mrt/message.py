"""What one delivery carries (Message) and where it goes (Target): plain values, no behaviour.

They sit at the bottom of the house because the outbox (mrt/store/) stores Messages and
everything above it speaks of both; mrt/delivery/base.py re-exports them for channel plugins
together with SendOutcome, so a plugin still imports all three from one place (mrt.api).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Target:
    channel: str  # the configured channel's name
    key: str  # redacted URL (Apprise privacy form): what the outbox stores
    url: str = field(repr=False)  # the real URL with its secrets: never logged, never stored
    kind: str = ""  # url scheme: welink, mailto, mailtos, json, slack, dingtalk, ...
    max_length: int | None = None
    min_interval_seconds: float | None = None
    secrets: tuple[str, ...] = field(default=(), repr=False)  # strings to scrub from errors
    # keys this target had in earlier versions: outbox rows written then still find it
    previous_keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Message:
    subject: str
    body: str
    url: str = ""
    priority: str = "normal"
    extra: dict[str, Any] = field(default_factory=dict)

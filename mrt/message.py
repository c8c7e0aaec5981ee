"""What one delivery carries (Message), where it goes (Target) and what a send gave back
(SendOutcome): plain values, no behaviour.

They sit at the bottom of the house because the outbox (mrt/store/) stores Messages and
everything above it speaks of them; mrt/delivery/base.py (the channel plugin contract) and
mrt.api re-export them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Rate:
    """A rate budget: a token bucket holding up to `burst` sends, refilled `per_minute`."""

    burst: float
    per_minute: float

    @property
    def per_second(self) -> float:
        return self.per_minute / 60.0


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
    rate: Rate | None = None  # this target's own budget (a plugin listing targets may set it)


@dataclass(frozen=True, slots=True)
class Message:
    subject: str
    body: str
    url: str = ""
    priority: str = "normal"
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SendOutcome:
    ok: bool
    retryable: bool = True  # False: a permanent failure (bad parameters, robot not found)
    throttled: bool = False  # HTTP 429 or a vendor's throttling code
    retry_after: float | None = None  # seconds the target asked us to wait
    http_status: int | None = None
    vendor_code: str | None = None
    error_class: str | None = None
    message: str | None = None  # secrets removed

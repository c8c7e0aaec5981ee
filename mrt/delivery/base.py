"""What a channel plugin is, and what one send gives back.

A channel plugin is a module registered under the `mrt.channels` entry point group with:

    def targets(name: str, channel: ChannelConfig, env: Mapping[str, str]) -> list[Target]
    async def send(target: Target, message: Message, *, timeout: float) -> SendOutcome

`send` never raises for a failed delivery: every failure is a SendOutcome, which the sender turns
into outbox state. `Target.key` is the redacted URL: stable across restarts, safe to store and
show. `Target.url` holds the secret and never leaves the process. Message and Target are
defined in mrt/message.py (the outbox stores Messages and must not import delivery/).
"""

from __future__ import annotations

from dataclasses import dataclass

from mrt.message import Message, Target

__all__ = ["Message", "SendOutcome", "Target"]


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

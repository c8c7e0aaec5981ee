"""What a channel plugin is, and what one send gives back.

A channel plugin is a module registered under the `mrt.channels` entry point group with:

    def targets(name: str, channel: ChannelConfig, env: Mapping[str, str]) -> list[Target]
    async def send(target: Target, message: Message, *, timeout: float) -> SendOutcome

`send` never raises for a failed delivery: every failure is a SendOutcome, which the sender turns
into outbox state. `Target.key` is the redacted URL: stable across restarts, safe to store and
show. `Target.url` holds the secret and never leaves the process. The three types are defined in
mrt/message.py, at the bottom of the house (the outbox stores Messages and must not import
delivery/; mrt.api, which plugins import, sits at the bottom too).
"""

from __future__ import annotations

from mrt.message import Message, SendOutcome, Target

__all__ = ["Message", "SendOutcome", "Target"]

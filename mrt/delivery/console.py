"""The `console` channel plugin: print each message to stdout.

For the built-in default config and for trying MRT out before any robot is set up.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from mrt.config import ChannelConfig
from mrt.delivery.base import Message, SendOutcome, Target
from mrt.inert import strip_controls

KEY = "console://stdout"


def targets(name: str, channel: ChannelConfig, env: Mapping[str, str]) -> list[Target]:
    return [Target(channel=name, key=KEY, url=KEY, kind="console")]


def format_message(message: Message) -> str:
    """The message as the terminal gets it: a custom template's own text is inert too."""
    head = f"== {strip_controls(message.subject)} ==\n" if message.subject else ""
    return f"{head}{strip_controls(message.body, keep_newlines=True)}\n"


async def send(target: Target, message: Message, *, timeout: float) -> SendOutcome:
    try:
        sys.stdout.write(format_message(message))
        sys.stdout.flush()
    except OSError as exc:  # a closed or full stdout: report it, never raise
        return SendOutcome(ok=False, error_class=type(exc).__name__, message=str(exc))
    return SendOutcome(ok=True, retryable=False)

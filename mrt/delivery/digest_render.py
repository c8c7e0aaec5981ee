"""The text of a scheduled digest: counts per source and per rule, then the list with links.

    render_digest(config, channel, name, entries, max_items) -> Message    (TemplateError)

The list holds at most `max_items` entries and is shortened further until the message fits
the channel's limit (its `max_length`, or 500 characters on a WeLink-bound chat channel); what
is not listed is counted in an "and N more" line. The counts always cover every entry.
A digest uses its own default template (templates/digest.j2): a channel's `template` is written
for single events and aggregates, whose context a digest does not have. Upstream text is
cleaned exactly as for any message (render.event_context).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from mrt.config import ChannelConfig, Config
from mrt.delivery.base import Message
from mrt.delivery.render import (
    CHAT_MAX_LENGTH,
    channel_is_length_bound,
    channel_kind,
    event_context,
    render_template,
)
from mrt.delivery.sanitize import clean_line, fit_text
from mrt.events import TrackerEvent

TEMPLATE = "digest.j2"


@dataclass(frozen=True, slots=True)
class DigestEntry:
    event: TrackerEvent
    rule: str | None  # the rule that sent it to the digest
    priority: str = "low"


def _counts(values: Sequence[str]) -> list[dict[str, Any]]:
    """[{name, count}] most frequent first, ties in order of first appearance."""
    counter = Counter(values)
    order = {v: i for i, v in reversed(list(enumerate(values)))}
    return [
        {"name": v, "count": n}
        for v, n in sorted(counter.items(), key=lambda kv: (-kv[1], order[kv[0]]))
    ]


def digest_context(
    channel: str, name: str, entries: Sequence[DigestEntry], listed: int
) -> dict[str, Any]:
    items = [event_context(e.event) for e in entries]
    return {
        "channel": channel,
        "name": clean_line(name, max_chars=80),
        "count": len(items),
        "by_source": _counts([i["where"] for i in items]),
        "by_rule": _counts([clean_line(e.rule or "(no rule)", max_chars=80) for e in entries]),
        "events": items,
        "shown": items[:listed],
        "more": max(0, len(items) - listed),
    }


def render_digest(
    config: Config, channel: str, name: str, entries: Sequence[DigestEntry], max_items: int
) -> Message:
    """The digest `name` for `channel`; an empty digest is the caller's to skip."""
    kind = channel_kind(config, channel)
    section = config.channels.get(channel) or ChannelConfig.model_construct()
    limit = section.max_length or (
        CHAT_MAX_LENGTH if kind == "chat" and channel_is_length_bound(config, channel) else None
    )
    source = resources.files("mrt.delivery").joinpath("templates", TEMPLATE).read_text("utf-8")
    listed = min(max_items, len(entries))
    while True:
        context = digest_context(channel, name, entries, listed)
        body = render_template(channel, TEMPLATE, source, context)
        if limit is None or len(body) <= limit or listed == 0:
            break
        listed -= 1
    if limit is not None:
        body = fit_text(body, limit, keep_link=False)
    count = len(entries)
    subject = f"[MRT] Digest {context['name']}: {count} update{'s' if count != 1 else ''}"
    return Message(
        subject=subject if kind == "email" else "",
        body=body,
        url=context["shown"][0]["url"] if context["shown"] else "",
        priority=max((e.priority for e in entries), key=_urgency, default="low"),
        extra={"kind": kind, "events": count, "digest": name},
    )


def _urgency(priority: str) -> int:
    order = ("low", "normal", "high", "critical")
    return order.index(priority) if priority in order else 1

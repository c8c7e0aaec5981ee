"""The one message a folded burst goes out in (see mrt/store/outbox_claim.py for when).

    fold_message(carrier, limit) -> (Message, listed)

It lists each waiting alert: its title, why it matched (the rule and its reasons) and its link,
oldest first, in the text of the alert's own subject (rendered at enqueue, already cleaned).
A target with a length limit (WeLink's 500 characters) gets as many as fit: `listed` says which
rows made it in; the sender gives the others back to wait for the next message, so an alert is
never marked sent without having been in a message.
"""

from __future__ import annotations

from mrt.delivery.base import Message
from mrt.delivery.sanitize import clean_line
from mrt.store.outbox_records import ClaimedDelivery

TITLE_CHARS = 90
WHY_CHARS = 60
PREFIX = "[MRT] "  # how the default chat text starts


def fold_line(row: ClaimedDelivery) -> str:
    """One alert of a fold: what and where (the first line of its own chat text), its title,
    why it matched, then its link on a line of its own."""
    first = row.message.body.strip().split("\n", 1)[0] if row.message.body else ""
    head = first[len(PREFIX):] if first.startswith(PREFIX) else ""
    title = clean_line(row.title or row.message.subject or first, max_chars=TITLE_CHARS)
    why = clean_line(row.why, max_chars=WHY_CHARS) if row.why else ""
    line = f"• {clean_line(head, max_chars=80)}: {title}" if head else f"• {title}"
    lines = [line + (f" ({why})" if why else "")]
    if row.message.url:
        lines.append(f"  {row.message.url}")
    return "\n".join(lines)


def _header(count: int) -> str:
    return f"[MRT] {count} alerts at once (folded to stay within the chat's rate limit)"


def fold_message(carrier: ClaimedDelivery, limit: int | None) -> tuple[Message, list[int]]:
    """The folded message for `carrier` and its members, and the outbox ids it lists."""
    listed: list[ClaimedDelivery] = []
    lines: list[str] = []
    for row in (carrier, *carrier.folded):
        line = fold_line(row)
        text = "\n".join([_header(len(listed) + 1), *lines, line])
        if listed and limit is not None and len(text) > limit:
            break
        listed.append(row)
        lines.append(line)
    if len(listed) == 1:  # nothing else fits beside it: the alert's own message
        return carrier.message, [carrier.id]
    priority = "high" if any(r.message.priority == "high" for r in listed) else "normal"
    return (
        Message(subject=_header(len(listed)), body="\n".join(lines), priority=priority),
        [r.id for r in listed],
    )

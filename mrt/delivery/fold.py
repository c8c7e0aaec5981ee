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


def _head(row: ClaimedDelivery) -> str:
    """What and where: the first line of the alert's own chat text, without its "[MRT] "."""
    first = row.message.body.strip().split("\n", 1)[0] if row.message.body else ""
    return clean_line(first[len(PREFIX):], max_chars=80) if first.startswith(PREFIX) else ""


def fold_line(row: ClaimedDelivery, *, head: bool = True, why: bool = True) -> str:
    """One alert of a fold: what and where, its title, why it matched, then its link on a
    line of its own (what the fold's header says for all of them is left out)."""
    title = clean_line(row.title or row.message.subject or row.message.body.split("\n", 1)[0],
                       max_chars=TITLE_CHARS)
    said = _head(row) if head else ""
    reason = clean_line(row.why, max_chars=WHY_CHARS) if why and row.why else ""
    line = f"• {said}: {title}" if said else f"• {title}"
    lines = [line + (f" ({reason})" if reason else "")]
    if row.message.url:
        lines.append(f"  {row.message.url}")
    return "\n".join(lines)


def _header(count: int) -> str:
    return f"[MRT] {count} alerts at once (folded to stay within the chat's rate limit)"


def fold_message(carrier: ClaimedDelivery, limit: int | None) -> tuple[Message, list[int]]:
    """The folded message for `carrier` and its members, and the outbox ids it lists."""
    rows = [carrier, *carrier.folded]
    heads = {_head(r) for r in rows}
    whys = {r.why for r in rows}
    shared_head = len(heads) == 1 and "" not in heads
    shared_why = len(whys) == 1 and "" not in whys
    common: list[str] = []  # said once, under the title, when every alert shares it
    if shared_head:
        common.append(next(iter(heads)))
    if shared_why:
        common.append("Why: " + clean_line(next(iter(whys)), max_chars=WHY_CHARS * 2))
    listed: list[ClaimedDelivery] = []
    lines: list[str] = []
    for row in rows:
        line = fold_line(row, head=not shared_head, why=not shared_why)
        text = "\n".join([_header(len(listed) + 1), *common, *lines, line])
        if listed and limit is not None and len(text) > limit:
            break
        listed.append(row)
        lines.append(line)
    if len(listed) == 1:  # nothing else fits beside it: the alert's own message
        return carrier.message, [carrier.id]
    priority = "high" if any(r.message.priority == "high" for r in listed) else "normal"
    return (
        Message(subject=_header(len(listed)), body="\n".join([*common, *lines]),
                priority=priority),
        [r.id for r in listed],
    )

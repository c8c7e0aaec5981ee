"""What a claimed delivery's Message carries besides its text (`Message.extra`).

The rendered text (subject, body) is stored with the outbox row; a channel that builds a rich
message (a chat card: mrt/delivery/vendors/) also needs the alert's facts: what kind of alert,
about which resource (the thread key a follow-up replies under), the event's type, source and
author, and the rules that matched. These are raw stored values: the channel cleans them with
the same sanitiser as the templates (mrt/delivery/sanitize.py) before they reach a message.
"""

from __future__ import annotations

from typing import Any

from mrt.store.models import Alert, Event
from mrt.store.vendor_threads import thread_key_of


def claim_extra(alert: Alert | None, event: Event | None) -> dict[str, Any]:
    if alert is None:
        return {}
    extra: dict[str, Any] = {
        "alert_id": int(alert.id),
        "alert_kind": str(alert.kind),
        "alert_title": str(alert.title or ""),
        "rules": [str(m.get("rule", "")) for m in (alert.matched or []) if isinstance(m, dict)],
    }
    if event is not None:
        extra.update(
            thread_key=thread_key_of(event.source_key, event.resource_type, event.resource_id),
            source=str(event.source),
            source_key=str(event.source_key),
            event_type=str(event.event_type),
            resource_id=str(event.resource_id),
            author=str(event.author or ""),
        )
    return extra

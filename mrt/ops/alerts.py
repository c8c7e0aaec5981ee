"""The operator's alerts: acknowledge ("I have seen it") and its undo, from `mrt alerts ack` /
`mrt alerts unack` and the console's `a` / `u`."""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from datetime import datetime

from mrt.store import audit
from mrt.store.alerts import acknowledge as mark_acknowledged
from mrt.store.alerts import acknowledged_by
from mrt.store.alerts import unacknowledge as mark_unacknowledged
from mrt.store.db import bound_database, write_transaction

__all__ = ["acknowledge", "operator", "unacknowledge"]


def operator(actor: str) -> str:
    """Who acknowledged, for acknowledged_by: the door and the login ("tui:alice")."""
    try:
        return f"{actor}:{getpass.getuser()}"
    except Exception:  # no user name in a bare container: still say which door it was
        return actor


def acknowledge(
    alert_ids: Sequence[int],
    *,
    now: datetime,
    actor: str,
    reason: str | None = None,
) -> int:
    """Mark alerts acknowledged by the person at `actor` ("cli" or "tui"); audited
    "alert.acknowledge". Returns how many were newly acknowledged: acknowledging twice keeps the
    first time and person."""
    ids = [int(i) for i in alert_ids]
    with write_transaction(bound_database()):
        changed = mark_acknowledged(ids, by=operator(actor), now=now)
        audit.record(actor, "alert.acknowledge", {"alert_ids": ids}, reason=reason,
                     result={"acknowledged": changed}, now=now)
    return changed


def unacknowledge(
    alert_ids: Sequence[int],
    *,
    now: datetime,
    actor: str,
    reason: str | None = None,
) -> int:
    """Take acknowledgements back (made by mistake, or the matter is open again); audited
    "alert.unacknowledge" with who had acknowledged each, so nothing of it is lost. Returns how
    many were acknowledged."""
    ids = [int(i) for i in alert_ids]
    with write_transaction(bound_database()):
        before = acknowledged_by(ids)
        changed = mark_unacknowledged(ids)
        audit.record(actor, "alert.unacknowledge", {"alert_ids": ids}, reason=reason,
                     result={"unacknowledged": changed,
                             "were_acknowledged_by": {str(k): v for k, v in before.items()}},
                     now=now)
    return changed

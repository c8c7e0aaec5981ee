"""The operator's alerts: acknowledge ("I have seen it"), from `mrt alerts ack` and the console."""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from datetime import datetime

from mrt.store import audit
from mrt.store.alerts import acknowledge as mark_acknowledged
from mrt.store.db import bound_database, write_transaction

__all__ = ["acknowledge", "operator"]


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

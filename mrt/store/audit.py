"""The audit log: every operator action, who did it, when, with what and why.

`params` and `result` are stored as JSON in the database and shown in the TUI: they must never
hold a secret (a token, a webhook URL with its key, a password). Pass names and ids instead
(the channel's name, the target's redacted key, the outbox id), never a resolved URL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mrt.store.models import AuditLog


def record(
    actor: str,
    action: str,
    params: dict[str, Any],
    *,
    reason: str | None = None,
    result: dict[str, Any] | None = None,
    now: datetime,
) -> int:
    """Append one action (actor: cli | tui | worker; action: dotted, e.g. `db.restore`)."""
    row = AuditLog.create(
        at=now, actor=actor, action=action, params=params, reason=reason, result=result or {}
    )
    return int(row.id)


def recent(limit: int = 100) -> list[AuditLog]:
    """The newest actions first."""
    return list(AuditLog.select().order_by(AuditLog.at.desc(), AuditLog.id.desc()).limit(limit))

"""The audit log as `mrt audit` and the console's Audit screen read it: newest first, keyset-paged.

Audit rows are never changed once written, so a live pane only asks for rows newer than the
newest it shows (`audit_newer`); older pages come with `audit_page(before_id=...)`. Both take
one `AuditFilter`, applied in SQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import peewee

from mrt.store.models import AuditLog

ACTORS = ("cli", "tui", "worker")


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which actions: every given field must match; empty means any."""

    since: datetime | None = None  # at or after this moment
    action: str = ""  # an exact action (outbox.retry) or its family (outbox)
    actor: str = ""  # cli | tui | worker

    def is_empty(self) -> bool:
        return self.since is None and not self.action and not self.actor


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One operator action: who, when, what, to what, why, and what came of it."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str  # what it acted on, in words (see `audit_target`)
    reason: str | None
    params: dict[str, Any]
    result: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "reason": self.reason,
            "params": self.params,
            "result": self.result,
        }


def _ids(prefix: str, values: Any, limit: int = 5) -> str:
    ids = [str(v) for v in values] if isinstance(values, list) else [str(values)]
    shown = ", ".join(f"#{i}" for i in ids[:limit])
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return f"{prefix} {shown}{more}"


def audit_target(action: str, params: Mapping[str, Any]) -> str:
    """What an action touched, as a short phrase ("silence #3", "deliveries #4, #5")."""
    if "silence" in params:
        return _ids("silence", params["silence"])
    if "source_key" in params:
        return str(params["source_key"])
    if "alert_ids" in params:
        return _ids("alerts" if len(params["alert_ids"] or []) != 1 else "alert",
                    params["alert_ids"])
    if "ids" in params:
        return _ids("deliveries" if len(params["ids"] or []) != 1 else "delivery", params["ids"])
    if isinstance(params.get("filter"), Mapping):
        named = " ".join(f"{k}={v}" for k, v in params["filter"].items())
        return f"deliveries where {named}" if named else "every delivery"
    for key in ("database", "dest", "source"):
        if key in params:
            return str(params[key])
    if action == "replay":
        span = [str(params[k]) for k in ("since", "until") if params.get(k)]
        return "events " + " to ".join(span) if span else "events"
    return ""


def _condition(flt: AuditFilter) -> peewee.Expression:
    cond: peewee.Expression = peewee.Value(1) == 1
    if flt.since is not None:
        cond &= AuditLog.at >= flt.since
    if flt.action:
        family = flt.action.rstrip(".")
        cond &= (AuditLog.action == family) | AuditLog.action.startswith(family + ".")
    if flt.actor:
        cond &= AuditLog.actor == flt.actor
    return cond


def _row(r: AuditLog) -> AuditRow:
    params = dict(r.params) if isinstance(r.params, dict) else {"value": r.params}
    result = dict(r.result) if isinstance(r.result, dict) else {"value": r.result}
    return AuditRow(
        id=int(r.id),
        at=r.at,
        actor=str(r.actor),
        action=str(r.action),
        target=audit_target(str(r.action), params),
        reason=r.reason,
        params=params,
        result=result,
    )


def audit_page(
    flt: AuditFilter | None = None, *, before_id: int | None = None, limit: int = 100
) -> list[AuditRow]:
    """One page, newest first; the next page starts below the last row's id."""
    cond = _condition(flt or AuditFilter())
    if before_id is not None:
        cond &= AuditLog.id < before_id
    query = AuditLog.select().where(cond).order_by(AuditLog.id.desc()).limit(limit)
    return [_row(r) for r in query]


def audit_newer(flt: AuditFilter | None, after_id: int, *, limit: int = 100) -> list[AuditRow]:
    """Rows written since the newest one shown (`after_id`), newest first."""
    cond = _condition(flt or AuditFilter()) & (AuditLog.id > after_id)
    query = AuditLog.select().where(cond).order_by(AuditLog.id.desc()).limit(limit)
    return [_row(r) for r in query]

"""The operator's silences: create and expire (`mrt silence add|expire`), each audited here."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from mrt.rules.silences import compile_matcher
from mrt.store import audit, silences
from mrt.store.db import bound_database, write_transaction

__all__ = ["create", "expire"]


def create(
    matcher: Mapping[str, Any],
    *,
    expires_at: datetime,
    now: datetime,
    actor: str,
    reason: str | None = None,
) -> int:
    """Store a silence (matcher validated first; `actor` is also its created_by) and audit it
    as "silence.create", in one transaction. Returns its id."""
    compile_matcher(matcher)  # the store knows no rule vocabulary: a bad key is refused here
    with write_transaction(bound_database()):
        silence_id = silences.create_silence(
            matcher, expires_at=expires_at, created_by=actor, reason=reason, now=now
        )
        audit.record(
            actor,
            "silence.create",
            {"silence": silence_id, "matcher": dict(matcher),
             "expires_at": expires_at.isoformat()},
            reason=reason,
            result={"id": silence_id},
            now=now,
        )
    return silence_id


def expire(silence_id: int, *, now: datetime, actor: str, reason: str | None = None) -> None:
    """End an active silence now and audit it as "silence.expire", in one transaction."""
    with write_transaction(bound_database()):
        silences.expire_silence(silence_id, now)
        audit.record(actor, "silence.expire", {"silence": silence_id}, reason=reason,
                     result={"expired_at": now.isoformat()}, now=now)

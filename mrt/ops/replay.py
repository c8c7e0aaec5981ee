"""The operator's replay: enqueue a planned replay (`mrt replay`, the console's replay screen).

Planning is mrt.replay.plan_replay (read-only, shown first); `apply` enqueues what was planned in
one transaction, leaving out what was told meanwhile. Its audit record ("replay", with the rule
version and what was enqueued) is written in that same transaction by the store's
record_replay, so the alerts and the record of who asked for them commit together.
"""

from __future__ import annotations

from datetime import datetime

import peewee

from mrt.replay import ReplayPlan, ReplayResult, apply_replay

__all__ = ["apply"]


def apply(
    plan: ReplayPlan,
    *,
    now: datetime,
    actor: str,
    reason: str | None = None,
    db: peewee.Database | None = None,
) -> ReplayResult:
    """Enqueue `plan`'s alerts and deliveries; audited "replay" with `actor`."""
    return apply_replay(plan, now=now, actor=actor, reason=reason, db=db)

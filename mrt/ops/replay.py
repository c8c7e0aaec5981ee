"""Replay, the one action with two askers: the operator (`mrt replay`, the console's replay
screen, through `apply`) and the worker after a rules change (`replay_after_rules_change`,
actor "worker", the `delivery.rules_change_replay_hours` policy).

Planning is mrt.replay (plan_replay reads only, and is shown first). `apply` opens one write
transaction, enqueues what was planned (mrt.replay.enqueue_plan, leaving out what was told
meanwhile) and writes the audit record ("replay", with the rule version and what was enqueued)
in it: the alerts and the record of who asked for them commit together, or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import peewee

from mrt.config import Config
from mrt.delivery.base import Target
from mrt.replay import ReplayPlan, ReplayResult, enqueue_plan, plan_after_rules_change
from mrt.store import audit
from mrt.store.db import bound_database, write_transaction
from mrt.store.replay import hold_replay_lock

__all__ = ["apply", "replay_after_rules_change"]


def apply(
    plan: ReplayPlan,
    *,
    now: datetime,
    actor: str,
    reason: str | None = None,
    db: peewee.Database | None = None,
) -> ReplayResult:
    """Enqueue `plan`'s alerts and deliveries; audited "replay" with `actor`.

    `db` defaults to the database the store is bound to (open_database/open_store).
    """
    database = db if db is not None else bound_database()
    with write_transaction(database):
        hold_replay_lock(database)  # another worker's replay commits first; its alerts are told
        done = enqueue_plan(plan, now=now, actor=actor, reason=reason)
        audit_id = audit.record(
            actor,
            "replay",
            {**plan.params, "planned": len(plan.items)},
            reason=reason,
            result={
                "alerts": list(done.alert_ids),
                "deliveries": done.deliveries,
                "rule_version": plan.rule_digest,
            },
            now=now,
        )
    return ReplayResult(
        alert_ids=done.alert_ids,
        deliveries=done.deliveries,
        rule_version_id=done.rule_version_id,
        audit_id=audit_id,
        dropped=done.dropped,
    )


def replay_after_rules_change(
    config: Config,
    targets: Mapping[str, list[Target]],
    *,
    db: peewee.Database,
    now: datetime,
    actor: str = "worker",
) -> ReplayResult | None:
    """The worker's replay when it starts or reloads with changed rules (see
    mrt.replay.plan_after_rules_change); applied and audited as the operator's is. None when
    the policy is off or the rules did not change.

    Planned under the replay lock: of several workers starting with the same new rules, the
    first replays and stores the new rule version; the others then find the rules unchanged."""
    with write_transaction(db):
        hold_replay_lock(db)
        planned = plan_after_rules_change(config, targets, now=now)
        if planned is None:
            return None
        return apply(planned.plan, db=db, now=now, actor=actor, reason=planned.reason)

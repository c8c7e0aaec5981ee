"""Claiming within rate budgets, folding a burst the budget cannot let out in time.

    claim_within_budgets(owner, now, limit=..., lease_seconds=..., budgets={target: Budget})
        -> BudgetClaim(rows, wait_seconds)

One write transaction, like `outbox.claim_due(one_per_target=True)`: each target's oldest due
row, targets by earliest due time, at most one row per target. A target with a budget is
claimed only when its bucket (mrt/store/budgets.py) gives a token, taken in the same
transaction; `wait_seconds` says when the soonest refused target will have one.

Runs (`run` > 1): a target that does not fold gets up to `run` rows at once, its next waiting
due rows in id order from its oldest (one token each, as many as its bucket holds), leased with
one expiry. Its sender sends them one after another, in order, each only once the one before
is recorded, so a crash leaves at most one of them possibly sent; whoever takes the first of
them back after the lease expired (counted as a try: it may have gone out) gives the others
back untried (outbox_lease.py). Fewer claims per message: the drain's rate is the store's.

Folding: when a target's due rows reach what its budget lets out within `fold_after` seconds
(the whole tokens there now plus those refilled by then: the last row would wait that long or
longer), its waiting rows (up to `fold_max`) are leased together for one token, the oldest as
carrier; the sender lists as many as the target's message holds and gives the others back, and
while the target is `folding` (the sender says which folded lately) its next claims fold too as
long as its rows outnumber its tokens (mrt/store/outbox_fold.py says how a fold settles).
Rows of targets without a budget (spaced the old way, or no longer configured) are claimed as
`claim_due` would.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import peewee

from mrt.message import Rate
from mrt.retry import RetryPolicy
from mrt.store import budgets
from mrt.store.budgets import Bucket
from mrt.store.db import bound_database, is_sqlite, write_transaction
from mrt.store.models import Outbox
from mrt.store.outbox_due import FirstDue, due, first_due_per_target
from mrt.store.outbox_lease import lease_many, lease_row
from mrt.store.outbox_records import ClaimedDelivery
from mrt.store.outbox_sql import run_ids

FOLD_MAX = 50  # alerts listed in one folded message at most; more wait for the next one


@dataclass(frozen=True, slots=True)
class Budget:
    key: str  # the bucket: the target's key, or one shared by several targets (a mail server)
    rate: Rate


@dataclass(slots=True)
class BudgetClaim:
    rows: list[ClaimedDelivery] = field(default_factory=list)
    wait_seconds: float | None = None  # when the soonest budget-refused target has a token


def _locked(
    query: peewee.ModelSelect[Outbox], db: peewee.Database
) -> peewee.ModelSelect[Outbox]:
    # PostgreSQL: concurrent claimers skip each other's rows instead of waiting.
    return query if is_sqlite(db) else query.for_update(skip_locked=True)


def _due_count(target: str, now: datetime, cap: int) -> int:
    """The target's due rows, counted up to `cap` (a backlog of 100,000 is not read)."""
    inner = Outbox.select(Outbox.id).where(due(now) & (Outbox.target == target)).limit(cap)
    return int(Outbox.select(peewee.fn.COUNT(peewee.SQL("*"))).from_(inner.alias("d")).scalar())


def claim_within_budgets(
    owner: str,
    now: datetime,
    *,
    limit: int,
    lease_seconds: int,
    budgets_by_target: Mapping[str, Budget],
    exclude_targets: Collection[str] = (),
    policy: RetryPolicy | None = None,
    fold_after: float = 0.0,
    fold_max: int = FOLD_MAX,
    folding: Collection[str] = (),
    run: int = 1,
) -> BudgetClaim:
    result = BudgetClaim()
    if limit <= 0:
        return result
    db = bound_database()
    expires = now + timedelta(seconds=lease_seconds)
    waits: list[float] = []
    with write_transaction(db):
        firsts = first_due_per_target(now, exclude_targets=exclude_targets)
        stored = budgets.read_many(
            budgets_by_target[f.target].key for f in firsts if f.target in budgets_by_target
        )
        singles: list[int] = []  # rows to lease together: first rows, and runs from them
        taken = 0  # targets claimed
        paid: dict[str, tuple[str, Bucket, list[int]]] = {}  # target -> its tokens' rows
        for first in firsts:
            if taken >= limit:
                break
            budget = budgets_by_target.get(first.target)
            if budget is None:
                singles.append(first.outbox_id)
                taken += 1
                continue
            bucket = stored.get(budget.key) or Bucket(float(budget.rate.burst), now)
            tokens = bucket.level(budget.rate, now) if now >= bucket.updated_at else 0.0
            fold = fold_after > 0 and _must_fold(
                first.target, now, tokens, budget.rate, fold_after, first.target in folding
            )
            whole = math.floor(tokens + 1e-9)
            ids = [first.outbox_id] if fold else _run(first, now, min(run, whole))
            wait, after, got = budgets.take_up_to(
                budget.key, budget.rate, now, stored.get(budget.key), len(ids)
            )
            if after is not None:
                stored[budget.key] = after
            if wait > 0:
                waits.append(wait)
                continue
            if not fold:
                taken += 1
                singles += ids[:got]
                if after is not None:
                    paid[first.target] = (budget.key, after, ids[:got])
                continue
            lease = _lease_fold(first.target, owner, now, expires, policy, fold_max, db)
            if lease is not None:
                taken += 1
                result.rows.append(lease)
        leased = _lease_singles(singles, owner, now, expires, policy, db)
        result.rows += leased
        # Rows another claimer leased between our read and our lease: their tokens back.
        got_ids = {c.id for c in leased}
        for key, after, ids in paid.values():
            missing = sum(1 for i in ids if i not in got_ids)
            if missing:
                budgets.give_back(key, after, missing)
    result.wait_seconds = min(waits) if waits else None
    return result


def _run(first: FirstDue, now: datetime, count: int) -> list[int]:
    """The target's first due row and, when it is a waiting one, up to `count - 1` more of its
    waiting due rows in id order, stopping before a crashed sender's row (taken back first)."""
    if count <= 1:
        return [first.outbox_id]
    ids = run_ids(first.target, first.outbox_id, first.abandoned, now, count)
    return ids if ids and ids[0] == first.outbox_id else [first.outbox_id]


def _lease_singles(
    ids: list[int], owner: str, now: datetime, expires: datetime, policy: RetryPolicy | None,
    db: peewee.Database,
) -> list[ClaimedDelivery]:
    """Waiting rows in one statement; a crashed sender's abandoned ones one by one."""
    leased = lease_many(ids, owner, now, expires)
    got = {c.id for c in leased}
    for outbox_id in ids:
        if outbox_id not in got:
            lease = _lease_first(outbox_id, owner, now, expires, policy, db)
            if lease is not None:
                leased.append(lease)
    return leased


def _must_fold(
    target: str, now: datetime, tokens: float, rate: Rate, fold_after: float, folding: bool
) -> bool:
    """True when the target's waiting rows reach what its budget lets out within fold_after
    (the last of them would wait that long or longer), counting whole tokens only so that the
    crumbs refilled while rows went out do not move the line. A target already `folding` (it
    folded within fold_after) goes on folding while its rows outnumber its whole tokens: the
    rest of a burst goes out folded now instead of alone, token by token, for a minute."""
    whole = math.floor(tokens + 1e-9)
    if folding:
        return _due_count(target, now, whole + 1) > whole
    lets_out = whole + rate.per_second * fold_after
    return _due_count(target, now, math.ceil(lets_out) + 1) + 1e-9 >= lets_out


def _lease_first(
    outbox_id: int, owner: str, now: datetime, expires: datetime, policy: RetryPolicy | None,
    db: peewee.Database,
) -> ClaimedDelivery | None:
    # Only while still due: a row another claimer leased since we read it is theirs (its lease
    # runs), not an abandoned one to take back.
    row = _locked(Outbox.select().where((Outbox.id == outbox_id) & due(now)), db).first()
    return None if row is None else lease_row(row, owner, now, expires, policy)


def _lease_fold(
    target: str, owner: str, now: datetime, expires: datetime, policy: RetryPolicy | None,
    fold_max: int, db: peewee.Database,
) -> ClaimedDelivery | None:
    """Lease the target's oldest due rows together; the first one kept is the carrier."""
    query = Outbox.select().where(due(now) & (Outbox.target == target))
    rows = list(_locked(query.order_by(Outbox.id).limit(fold_max), db))
    carrier: ClaimedDelivery | None = None
    members: list[ClaimedDelivery] = []
    for row in rows:
        lease = lease_row(
            row, owner, now, expires, policy, folded_into=None if carrier is None else carrier.id
        )
        if lease is None:
            continue
        if carrier is None:
            carrier = lease
        else:
            members.append(lease)
    return None if carrier is None else replace(carrier, folded=tuple(members))

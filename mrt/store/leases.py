"""Source leases: one poller per source at a time across workers, with a fencing epoch.

    take_due(keys, owner, now, seconds) -> [Lease]   the due sources no live worker holds
    renew(lease, now, seconds) -> Lease | None       a long poll keeps its lease (None: lost)
    fence(lease)                                     in the cycle's commit transaction
    release(lease)                                   a cycle that committed nothing lets go
    taken_over(lease) -> bool                        a failed late cycle records nothing

Taking a lease is one conditional UPDATE that also re-checks that the source is due, and bumps
`lease_epoch`: two workers racing for one source both run it, one matches the row (PostgreSQL
makes the second wait for the first's commit and re-check; SQLite's writer lock orders them),
and a source whose cycle just committed is no longer due for the other. A worker that dies
holds its leases until `lease_expires_at`; then another takes them over with a new epoch.

Fencing: a worker whose lease expired and was taken may still be polling. Its commit runs
`fence` first, inside the same transaction as the cursor's move and its events; the UPDATE
matches only while the row still carries that worker's epoch, so the late cycle raises
LeaseLost, rolls back whole, and can neither move the cursor back nor store its events.
Clocks: expiry compares each worker's own clock with the stored time; keep the workers'
clocks in sync (NTP) and the lease well above any skew.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import peewee

from mrt.errors import LeaseLost
from mrt.store import sources
from mrt.store.db import bound_database, require_transaction, write_transaction
from mrt.store.models import SourceState


@dataclass(frozen=True, slots=True)
class Lease:
    source_key: str
    owner: str  # the worker id (host:pid:nonce)
    epoch: int  # SourceState.lease_epoch when taken: the fencing token
    expires_at: datetime


def _free(now: datetime) -> peewee.Node:
    return (
        SourceState.lease_owner.is_null()
        | SourceState.lease_expires_at.is_null()
        | (SourceState.lease_expires_at <= now)
    )


def _held(lease: Lease) -> peewee.Node:
    return (
        (SourceState.source_key == lease.source_key)
        & (SourceState.lease_owner == lease.owner)
        & (SourceState.lease_epoch == lease.epoch)
    )


def take(key: str, owner: str, now: datetime, seconds: float) -> Lease | None:
    """The lease of `key` for `owner` if the source is due and no other owner holds a live
    lease. `owner` may take its own live lease again (a release that the database refused):
    the caller knows that it is not running that source's cycle any more."""
    expires = now + timedelta(seconds=seconds)
    with write_transaction(bound_database()):
        moved = (
            SourceState.update(
                lease_owner=owner,
                lease_expires_at=expires,
                lease_epoch=SourceState.lease_epoch + 1,
            )
            .where(
                (SourceState.source_key == key)
                & (_free(now) | (SourceState.lease_owner == owner))
                & sources.is_due(now)
            )
            .execute()
        )
        if not moved:
            return None
        epoch = (
            SourceState.select(SourceState.lease_epoch)
            .where(SourceState.source_key == key)
            .scalar()
        )
    return Lease(key, owner, int(epoch), expires)


def take_due(keys: Iterable[str], owner: str, now: datetime, seconds: float) -> list[Lease]:
    """Leases on the due sources among `keys` (in their order) that no live worker holds.

    A cheap read finds the candidates; each is then taken by its own conditional UPDATE.
    """
    taken = []
    for key in sources.due_keys(keys, now):
        lease = take(key, owner, now, seconds)
        if lease is not None:
            taken.append(lease)
    return taken


def renew(lease: Lease, now: datetime, seconds: float) -> Lease | None:
    """Push the lease's expiry to `now + seconds`; None when another worker took it since."""
    expires = now + timedelta(seconds=seconds)
    moved = SourceState.update(lease_expires_at=expires).where(_held(lease)).execute()
    return replace(lease, expires_at=expires) if moved else None


def fence(lease: Lease | None) -> None:
    """The cycle's commit goes on only while it holds its lease: call it first inside the
    commit's write transaction. It releases the lease (the commit moves `next_poll_at`, so the
    source is not due for anyone until then); LeaseLost when another worker took it."""
    if lease is None:  # a cycle run without leases (tests that call the pipeline directly)
        return
    require_transaction(bound_database(), "leases.fence")
    moved = (
        SourceState.update(lease_owner=None, lease_expires_at=None).where(_held(lease)).execute()
    )
    if not moved:
        row = SourceState.get_or_none(SourceState.source_key == lease.source_key)
        by = "" if row is None or row.lease_owner is None else f" by {row.lease_owner}"
        epoch = "" if row is None else f" (epoch {row.lease_epoch})"
        raise LeaseLost(
            f"{lease.source_key}: the lease of this cycle (epoch {lease.epoch}) expired and was "
            f"taken over{by}{epoch}: this cycle's results are dropped, the other worker's poll "
            "counts"
        )


def taken_over(lease: Lease | None) -> bool:
    """Whether another worker took `lease` over since it was taken (its epoch moved on): a
    failed cycle of a late worker then records nothing. False when the database cannot say
    (then the failure is recorded, or not, as any other)."""
    if lease is None:
        return False
    try:
        epoch = (
            SourceState.select(SourceState.lease_epoch)
            .where(SourceState.source_key == lease.source_key)
            .scalar()
        )
    except peewee.PeeweeException:
        return False
    return epoch is not None and int(epoch) != lease.epoch


def release(lease: Lease) -> bool:
    """Let go of a lease whose cycle committed nothing (failed, deferred, cancelled)."""
    return bool(
        SourceState.update(lease_owner=None, lease_expires_at=None).where(_held(lease)).execute()
    )


def holders(now: datetime) -> dict[str, str]:
    """{source key: worker id} of the live leases (for `mrt sources`, metrics and tests)."""
    query = SourceState.select(SourceState.source_key, SourceState.lease_owner).where(
        SourceState.lease_owner.is_null(False) & (SourceState.lease_expires_at > now)
    )
    return {row.source_key: str(row.lease_owner) for row in query}

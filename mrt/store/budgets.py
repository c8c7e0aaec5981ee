"""Rate budgets of delivery targets: token buckets kept in the database (table target_budget).

A bucket holds up to `burst` tokens and refills `per_minute`; a send takes one. The state is a
row (tokens as of updated_at), so every sender of every worker shares one budget per target:

    level(key, rate, now) -> tokens available now (a fresh target: a full bucket)
    take(key, rate, now)  -> 0.0 when a token was taken, else seconds until one is there
    drain(key, rate, now, retry_after)  the target said "slow down": empty until retry_after
                                         (or one token's time) has passed

`take` runs inside the claim's write transaction and changes the row only if it still holds
what was read (a compare-and-set UPDATE): on PostgreSQL two workers claiming at once cannot
both spend the last token; the loser sees the row changed and takes nothing this time. (On
SQLite the claim's BEGIN IMMEDIATE lets one writer in at a time anyway.)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from mrt.message import Rate
from mrt.store.models import TargetBudget


@dataclass(frozen=True, slots=True)
class Bucket:
    tokens: float
    updated_at: datetime

    def level(self, rate: Rate, now: datetime) -> float:
        elapsed = max(0.0, (now - self.updated_at).total_seconds())
        return min(float(rate.burst), self.tokens + elapsed * rate.per_second)

    def seconds_to_token(self, rate: Rate, now: datetime) -> float:
        """How long until one whole token is there (0: now)."""
        blocked = max(0.0, (self.updated_at - now).total_seconds())
        missing = 1.0 - self.level(rate, max(now, self.updated_at))
        return blocked + (max(0.0, missing) / rate.per_second if missing > 0 else 0.0)


def _read(key: str) -> Bucket | None:
    row = TargetBudget.get_or_none(TargetBudget.target == key)
    return None if row is None else Bucket(float(row.tokens), row.updated_at)


def bucket(key: str, rate: Rate, now: datetime) -> Bucket:
    """The stored bucket, or a full one for a target never sent to."""
    found = _read(key)
    return found if found is not None else Bucket(float(rate.burst), now)


def level(key: str, rate: Rate, now: datetime) -> float:
    return bucket(key, rate, now).level(rate, now)


def _store(key: str, old: Bucket | None, new: Bucket) -> bool:
    """Write `new` if the row still holds `old` (None: if there is no row yet)."""
    if old is None:
        inserted = (
            TargetBudget.insert(target=key, tokens=new.tokens, updated_at=new.updated_at)
            .on_conflict_ignore()
            .returning(TargetBudget.target)
            .execute()
        )
        # None returned: another claimer's row came first (comparing the row read back with
        # `new` could not tell two first takes at the same instant apart: both would spend)
        return len(list(inserted)) == 1
    updated = (
        TargetBudget.update(tokens=new.tokens, updated_at=new.updated_at)
        .where(
            (TargetBudget.target == key)
            & (TargetBudget.tokens == old.tokens)
            & (TargetBudget.updated_at == old.updated_at)
        )
        .execute()
    )
    return int(updated) == 1


def take(key: str, rate: Rate, now: datetime) -> float:
    """Take one token: 0.0 when taken, else the seconds until one is there."""
    return take_from(key, rate, now, _read(key))[0]


def take_from(
    key: str, rate: Rate, now: datetime, stored: Bucket | None
) -> tuple[float, Bucket | None]:
    """`take` from a bucket already read (`read_many`): (wait, the bucket as stored now)."""
    current = stored if stored is not None else Bucket(float(rate.burst), now)
    tokens = current.level(rate, now)
    if now < current.updated_at or tokens < 1.0 - 1e-9:
        return max(current.seconds_to_token(rate, now), 0.001), stored
    new = Bucket(max(0.0, tokens - 1.0), now)
    if _store(key, stored, new):
        return 0.0, new
    # another worker took from this bucket at the same moment: look again soon
    return 0.05, _read(key)


def give_back(key: str, taken: Bucket) -> None:
    """Return the token `take_from` just took (as `taken`) when the row it was for could not be
    leased after all (another claimer had it). Inside the same transaction as the take, which
    holds the row: nobody changed it in between, or the compare fails and the token stays
    spent (a target sent to less, never more)."""
    _store(key, taken, Bucket(taken.tokens + 1.0, taken.updated_at))


def read_many(keys: Iterable[str]) -> dict[str, Bucket]:
    """The stored buckets of `keys` in one query (a key never sent to is absent)."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    query = TargetBudget.select().where(TargetBudget.target.in_(wanted))
    return {str(r.target): Bucket(float(r.tokens), r.updated_at) for r in query}


def drain(key: str, rate: Rate, now: datetime, retry_after: float | None) -> None:
    """The target throttled us: the bucket is emptied and its next token comes `retry_after`
    (or, when the target did not say, one token's time) from now."""
    pause = retry_after if retry_after is not None and retry_after > 0 else 1.0 / rate.per_second
    until = now + timedelta(seconds=pause)
    for _ in range(3):  # a concurrent take changed the row: read it again
        old = _read(key)
        if old is not None and old.updated_at >= until:
            return  # already blocked at least this far
        # one token as of `until`, none before: `take` waits for updated_at to pass
        if _store(key, old, Bucket(1.0, until)):
            return


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

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mrt.message import Rate
from mrt.store.db import bound_database, fetch_all
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


_INSERT = (
    "INSERT INTO target_budget (target, tokens, updated_at) VALUES ({p}, {p}, {p}) "
    "ON CONFLICT DO NOTHING RETURNING target"
)
_UPDATE = (
    "UPDATE target_budget SET tokens = {p}, updated_at = {p} "
    "WHERE target = {p} AND tokens = {p} AND updated_at = {p}"
)


def _at(value: datetime) -> Any:
    return TargetBudget.updated_at.db_value(value)


def _store(key: str, old: Bucket | None, new: Bucket) -> bool:
    """Write `new` if the row still holds `old` (None: if there is no row yet). Plain SQL
    (mrt/store/outbox_sql.py says why): one per claimed target."""
    db = bound_database()
    if old is None:
        inserted = fetch_all(
            db, _INSERT.format(p=db.param), (key, new.tokens, _at(new.updated_at))
        )
        # None returned: another claimer's row came first (comparing the row read back with
        # `new` could not tell two first takes at the same instant apart: both would spend)
        return len(inserted) == 1
    cursor = db.execute_sql(  # type: ignore[no-untyped-call]
        _UPDATE.format(p=db.param),
        (new.tokens, _at(new.updated_at), key, old.tokens, _at(old.updated_at)),
    )
    return int(cursor.rowcount) == 1


def take(key: str, rate: Rate, now: datetime) -> float:
    """Take one token: 0.0 when taken, else the seconds until one is there."""
    return take_from(key, rate, now, _read(key))[0]


def take_from(
    key: str, rate: Rate, now: datetime, stored: Bucket | None
) -> tuple[float, Bucket | None]:
    """`take` from a bucket already read (`read_many`): (wait, the bucket as stored now)."""
    wait, after, _ = take_up_to(key, rate, now, stored, 1)
    return wait, after


def take_up_to(
    key: str, rate: Rate, now: datetime, stored: Bucket | None, count: int
) -> tuple[float, Bucket | None, int]:
    """Take up to `count` whole tokens at once (a run of rows leased together): (wait, the
    bucket as stored now, how many were taken); none taken: the wait until one is there."""
    current = stored if stored is not None else Bucket(float(rate.burst), now)
    tokens = current.level(rate, now)
    if now < current.updated_at or tokens < 1.0 - 1e-9:
        return max(current.seconds_to_token(rate, now), 0.001), stored, 0
    taken = max(1, min(count, math.floor(tokens + 1e-9)))
    new = Bucket(max(0.0, tokens - taken), now)
    if _store(key, stored, new):
        return 0.0, new, taken
    # another worker took from this bucket at the same moment: look again soon
    return 0.05, _read(key), 0


def give_back(key: str, taken: Bucket, count: int = 1) -> None:
    """Return `count` of the tokens `take_up_to` just took (leaving the bucket `taken`) when
    the rows they were for could not be leased after all (another claimer had them). Inside
    the same transaction as the take, which holds the row: nobody changed it in between, or
    the compare fails and the tokens stay spent (a target sent to less, never more)."""
    _store(key, taken, Bucket(taken.tokens + count, taken.updated_at))


def read_many(keys: Iterable[str]) -> dict[str, Bucket]:
    """The stored buckets of `keys` in one query (a key never sent to is absent)."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    db = bound_database()
    marks = ", ".join([db.param] * len(wanted))
    rows = fetch_all(
        db, f"SELECT target, tokens, updated_at FROM target_budget WHERE target IN ({marks})",
        tuple(wanted),
    )
    return {
        str(key): Bucket(float(tokens), TargetBudget.updated_at.python_value(at))
        for key, tokens, at in rows
    }

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


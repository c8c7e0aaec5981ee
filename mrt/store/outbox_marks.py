"""The marks of a batch of finished sends, written in one transaction.

A sender whose sends finish close together records them together: one write transaction (one
commit, one fsync) instead of one per send. Each mark keeps its own meaning and checks
(`outbox.mark_sent` / `mark_failed`, in a savepoint of its own, so a mark that fails is that
row's "not recorded" and the others stand); a throttle answer drains the target's budget in
the same transaction.

    record_marks(marks, owner, now, policy) -> [status or the exception, ...]  (in order)
    record_then_claim(marks, ..., claim) -> (those, what claim() returned or its error)
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import peewee

from mrt.message import Rate
from mrt.retry import RetryPolicy
from mrt.store import budgets
from mrt.store.db import bound_database, write_transaction
from mrt.store.outbox import mark_failed, mark_sent, release
from mrt.store.outbox_records import AttemptRecord
from mrt.store.outbox_sql import insert_attempts, sent_ids

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Mark:
    outbox_id: int
    attempt: AttemptRecord
    ok: bool
    retryable: bool = True
    retry_after: float | None = None
    carried: bool = True  # its message may have carried folded rows
    throttled_budget: tuple[str, Rate] | None = None  # (bucket key, rate) to drain


def record_marks(
    marks: Sequence[Mark], owner: str, now: datetime, policy: RetryPolicy,
    give_back: Collection[int] = (),
) -> list[str | Exception]:
    """The marks, then `give_back` (rows of runs that will not be sent: back to waiting)."""
    with write_transaction(bound_database()):
        results = _record_all(marks, owner, now, policy)
        release(owner, now, only=give_back)
        return results


def record_then_claim(
    marks: Sequence[Mark], owner: str, now: datetime, policy: RetryPolicy, claim: Callable[[], T],
    give_back: Collection[int] = (),
) -> tuple[list[str | Exception], T | peewee.PeeweeException]:
    """`record_marks`, then the sender's next claim, in the same transaction: a claim that
    fails (its savepoint rolled back) leaves the marks standing and is returned as the error."""
    db = bound_database()
    with write_transaction(db):
        results = _record_all(marks, owner, now, policy)
        release(owner, now, only=give_back)
        try:
            with db.atomic():
                claimed: T | peewee.PeeweeException = claim()
        except peewee.PeeweeException as exc:
            claimed = exc
    return results, claimed


def _record_all(
    marks: Sequence[Mark], owner: str, now: datetime, policy: RetryPolicy
) -> list[str | Exception]:
    results: dict[int, str | Exception] = {}
    db = bound_database()
    plain = [n for n, mark in enumerate(marks) if mark.ok and not mark.carried]
    if plain:  # the common case, a few statements for all of them (outbox_sql.py)
        try:
            with db.atomic():
                results.update(_record_plain_sent([marks[n] for n in plain], plain, owner, now))
        except Exception:  # each mark is tried alone below, and fails there on its own
            results.clear()
    for n, mark in enumerate(marks):
        if n in results:
            continue
        try:
            with db.atomic():  # a savepoint: this mark alone on failure
                results[n] = _record_one(mark, owner, now, policy)
        except Exception as exc:  # the sender logs it as "not recorded"
            results[n] = exc
    return [results[n] for n in range(len(marks))]


def _record_plain_sent(
    marks: Sequence[Mark], positions: Sequence[int], owner: str, now: datetime
) -> dict[int, str]:
    """Successful sends whose messages carried no folded rows: `mark_sent` for all of them in
    one UPDATE ... RETURNING and one executemany of their attempts. A row this owner no longer
    holds is left out (the one-by-one path records it as lease lost)."""
    marked = sent_ids([m.outbox_id for m in marks], owner, now)
    insert_attempts([(m.outbox_id, m.attempt, "sent") for m in marks if m.outbox_id in marked])
    return {n: "sent" for n, m in zip(positions, marks, strict=True) if m.outbox_id in marked}


def _record_one(mark: Mark, owner: str, now: datetime, policy: RetryPolicy) -> str:
    if mark.ok:
        return mark_sent(mark.outbox_id, owner, now, mark.attempt, carried=mark.carried)
    if mark.throttled_budget is not None:
        key, rate = mark.throttled_budget
        budgets.drain(key, rate, now, mark.retry_after)
    return mark_failed(
        mark.outbox_id, owner, now, mark.attempt, retryable=mark.retryable,
        retry_after=mark.retry_after, policy=policy, carried=mark.carried,
    )

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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import peewee

from mrt.message import Rate
from mrt.retry import RetryPolicy
from mrt.store import budgets
from mrt.store.db import bound_database, write_transaction
from mrt.store.outbox import mark_failed, mark_sent
from mrt.store.outbox_records import AttemptRecord

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
    marks: Sequence[Mark], owner: str, now: datetime, policy: RetryPolicy
) -> list[str | Exception]:
    with write_transaction(bound_database()):
        return _record_all(marks, owner, now, policy)


def record_then_claim(
    marks: Sequence[Mark], owner: str, now: datetime, policy: RetryPolicy, claim: Callable[[], T]
) -> tuple[list[str | Exception], T | peewee.PeeweeException]:
    """`record_marks`, then the sender's next claim, in the same transaction: a claim that
    fails (its savepoint rolled back) leaves the marks standing and is returned as the error."""
    db = bound_database()
    with write_transaction(db):
        results = _record_all(marks, owner, now, policy)
        try:
            with db.atomic():
                claimed: T | peewee.PeeweeException = claim()
        except peewee.PeeweeException as exc:
            claimed = exc
    return results, claimed


def _record_all(
    marks: Sequence[Mark], owner: str, now: datetime, policy: RetryPolicy
) -> list[str | Exception]:
    results: list[str | Exception] = []
    db = bound_database()
    for mark in marks:
        try:
            with db.atomic():  # a savepoint: this mark alone on failure
                results.append(_record_one(mark, owner, now, policy))
        except Exception as exc:  # the sender logs it as "not recorded"
            results.append(exc)
    return results


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

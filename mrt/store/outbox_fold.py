"""Burst folding in the outbox: rows that go out inside another row's message.

A claim that folds (mrt/store/outbox_claim.py) leases a target's waiting rows together: the
oldest is the carrier, whose send carries one message listing them all; every other row gets
`folded_into = <carrier id>` and the same lease. How the carrier's send ends settles them in
the carrier's own transaction:

    sent       every member is sent too (same sent_at), with an attempt saying which message
    not sent   every member goes back to waiting, unfolded, due when the carrier is: the next
               claim sends them alone or folds them again; their attempts are not counted

A crash mid-fold leaves carrier and members `sending` with an expired lease: each is taken
back on its own (recorded as lease_expired, its fold membership cleared), so nothing is lost,
and a member is never marked sent unless the message that carried it was accepted.
"""

from __future__ import annotations

from datetime import datetime

import peewee

from mrt.store.db import bound_database, write_transaction
from mrt.store.models import DeliveryAttempt, Outbox
from mrt.store.outbox_records import AttemptRecord


def _members(carrier_id: int, owner: str) -> peewee.Expression:
    return (
        (Outbox.folded_into == carrier_id)
        & (Outbox.status == "sending")
        & (Outbox.lease_owner == owner)
    )


def settle_folded(
    carrier_id: int, owner: str, now: datetime, attempt: AttemptRecord, *, sent: bool
) -> int:
    """Settle the members of `carrier_id`'s fold (inside the carrier's mark); how many."""
    ids = [int(r.id) for r in Outbox.select(Outbox.id).where(_members(carrier_id, owner))]
    if not ids:
        return 0
    if sent:
        Outbox.update(
            status="sent", attempts=Outbox.attempts + 1, sent_at=now, updated_at=now,
            lease_owner=None, lease_expires_at=None, last_error=None,
        ).where(Outbox.id.in_(ids)).execute()
        note = f"sent inside the message of outbox row {carrier_id} (a burst folded into one)"
        outcome = "sent"
    else:
        carrier = Outbox.get_by_id(carrier_id)
        back_to = peewee.Case(None, [(Outbox.attempts == 0, "pending")], "retrying")
        Outbox.update(
            status=back_to, folded_into=None, updated_at=now, lease_owner=None,
            lease_expires_at=None, next_attempt_at=carrier.next_attempt_at,
        ).where(Outbox.id.in_(ids)).execute()
        note = (
            f"the message of outbox row {carrier_id} that carried it was not accepted; "
            "waiting again (not counted as an attempt)"
        )
        outcome = "unfolded"
    DeliveryAttempt.insert_many(
        [
            {
                "outbox": i, "started_at": attempt.started_at, "duration_ms": attempt.duration_ms,
                "outcome": outcome, "http_status": attempt.http_status,
                "vendor_code": attempt.vendor_code, "error_class": attempt.error_class,
                "message": note,
            }
            for i in ids
        ]
    ).execute()
    return len(ids)


def unfold(carrier_id: int, owner: str, outbox_ids: list[int], now: datetime) -> int:
    """Give back members the carrier's message had no room for: waiting again at once, not
    counted as an attempt (nothing was sent for them)."""
    if not outbox_ids:
        return 0
    back_to = peewee.Case(None, [(Outbox.attempts == 0, "pending")], "retrying")
    with write_transaction(bound_database()):
        return int(
            Outbox.update(
                status=back_to, folded_into=None, updated_at=now, lease_owner=None,
                lease_expires_at=None,
            )
            .where(_members(carrier_id, owner) & Outbox.id.in_(outbox_ids))
            .execute()
        )

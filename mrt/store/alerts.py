"""Operator actions on alerts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from mrt.store.db import bound_database, write_transaction
from mrt.store.models import Alert


def acknowledge(alert_ids: Iterable[int], *, by: str, now: datetime) -> int:
    """Mark alerts as seen by `by` (an operator); returns how many were newly acknowledged.

    Acknowledging twice keeps the first time and person: the record says who saw it first.
    """
    ids = sorted({int(i) for i in alert_ids})
    if not ids:
        return 0
    changed = 0
    with write_transaction(bound_database()):
        for start in range(0, len(ids), 500):  # stay under SQLite's bound-variable limit
            changed += int(
                Alert.update(acknowledged_at=now, acknowledged_by=by)
                .where(Alert.id.in_(ids[start : start + 500]) & Alert.acknowledged_at.is_null())
                .execute()
            )
    return changed


def unacknowledge(alert_ids: Iterable[int]) -> int:
    """Forget that alerts were seen (an acknowledgement made by mistake); returns how many
    were acknowledged. The audit log keeps who acknowledged and who took it back."""
    ids = sorted({int(i) for i in alert_ids})
    changed = 0
    with write_transaction(bound_database()):
        for start in range(0, len(ids), 500):  # stay under SQLite's bound-variable limit
            changed += int(
                Alert.update(acknowledged_at=None, acknowledged_by=None)
                .where(Alert.id.in_(ids[start : start + 500]) & Alert.acknowledged_at.is_null(False))
                .execute()
            )
    return changed


def acknowledged_by(alert_ids: Sequence[int]) -> dict[int, str | None]:
    """Who acknowledged each of these alerts, for those that are acknowledged."""
    wanted = sorted({int(i) for i in alert_ids})
    query = Alert.select(Alert.id, Alert.acknowledged_by).where(
        Alert.id.in_(wanted) & Alert.acknowledged_at.is_null(False)
    )
    return {int(a.id): a.acknowledged_by for a in query}


def known_alert_ids(alert_ids: Sequence[int]) -> set[int]:
    """Which of these ids are alerts in the database (to name the ones that are not)."""
    wanted = sorted({int(i) for i in alert_ids})
    return {int(r.id) for r in Alert.select(Alert.id).where(Alert.id.in_(wanted))}

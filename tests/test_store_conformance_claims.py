"""Claiming one row per target (what the sender does), the same on SQLite and on PostgreSQL.

Like TestStoreConformance, the class runs once per backend (`store_target` in conftest.py; the
postgres variant when $MRT_TEST_PG_URL names a server, see .ci/postgres): which row of each
target is claimed, which targets come first, what is left out, and that the statement finding
them seeks the claim indexes of migration 4 instead of reading the backlog.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import peewee
from test_outbox_support import claim_in_threads

from mrt.retry import RetryPolicy
from mrt.store import outbox
from mrt.store.db import is_sqlite, open_database
from mrt.store.migrations import STEPS, migrate
from mrt.store.models import Alert, DeliveryAttempt, Outbox
from mrt.store.outbox_due import FirstDue, first_due_params, first_due_per_target, first_due_sql

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
A, B, C, D, E, F = (f"json://127.0.0.1:9/hook/{x}" for x in "abcdef")
CLAIM_INDEXES = {"outbox_status_target_id", "outbox_status_target_next_attempt_at"}


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def add(target: str, status: str, due_in: timedelta, *, lease_in: timedelta | None = None) -> int:
    """One outbox row (with an alert of its own) whose next attempt is at NOW + due_in."""
    created = NOW - timedelta(hours=3)
    alert = Alert.create(title=f"{target} {status}", created_at=created)
    row = Outbox.create(
        alert=alert, channel="hook", target=target, status=status, subject="s", body="b",
        next_attempt_at=NOW + due_in, created_at=created, updated_at=created,
        lease_owner="crashed" if status == "sending" else None,
        lease_expires_at=NOW + lease_in if lease_in is not None else None,
    )
    return int(row.id)


def mixed_targets() -> dict[str, int]:
    """Six targets; rows made in this order, so ids interleave across targets."""
    rows = [
        ("a1", A, "sent", minutes(-180), None),
        ("e1", E, "dead", minutes(-120), None),
        ("d1", D, "sending", minutes(-60), minutes(1)),  # a live lease: not due
        ("c1", C, "sending", minutes(-50), minutes(-0.1)),  # its sender died: due, taken back
        ("b1", B, "retrying", minutes(1), None),  # its retry is a minute away
        ("a2", A, "retrying", minutes(-10), None),  # A's oldest due row ...
        ("e2", E, "discarded", minutes(-120), None),
        ("b2", B, "pending", minutes(-20), None),  # B's oldest due row ...
        ("a3", A, "pending", minutes(-30), None),  # ... though this one is due earlier
        ("d2", D, "pending", minutes(-45), None),
        ("b3", B, "pending", minutes(-25), None),  # ... though this one is due earlier
        ("c2", C, "pending", minutes(-5), None),
        ("e3", E, "retrying", minutes(60), None),
        ("e4", E, "sending", minutes(-120), minutes(1)),
        ("a4", A, "pending", minutes(5), None),
        ("f1", F, "pending", timedelta(seconds=1), None),
    ]
    return {name: add(target, status, due, lease_in=lease) for name, target, status, due, lease in rows}


def claim(limit: int, **kw: object) -> list[int]:
    got = outbox.claim_due(
        "w", NOW, limit=limit, lease_seconds=3600, one_per_target=True, **kw  # type: ignore[arg-type]
    )
    return [c.id for c in got]


def statuses() -> dict[int, str]:
    return {r.id: r.status for r in Outbox.select()}


class TestClaimOnePerTargetConformance:
    def test_each_targets_oldest_due_row_and_targets_by_earliest_due(
        self, store_db: peewee.Database
    ) -> None:
        ids = mixed_targets()
        # earliest due: C 50 min ago (its abandoned row), D 45, A 30 (a3), B 25 (b3); none of E, F
        assert first_due_per_target(NOW) == [
            FirstDue(C, ids["c1"], NOW + minutes(-50)),
            FirstDue(D, ids["d2"], NOW + minutes(-45)),
            FirstDue(A, ids["a2"], NOW + minutes(-30)),
            FirstDue(B, ids["b2"], NOW + minutes(-25)),
        ]
        before = statuses()

        claimed = claim(10)

        # the claimed rows, oldest next_attempt_at first, as claims always returned them
        assert claimed == [ids["c1"], ids["d2"], ids["b2"], ids["a2"]]
        after = statuses()
        assert {after[i] for i in claimed} == {"sending"}
        assert {i: s for i, s in after.items() if i not in claimed} == {
            i: s for i, s in before.items() if i not in claimed
        }
        taken_back = Outbox.get_by_id(ids["c1"])
        assert (taken_back.attempts, taken_back.lease_owner) == (1, "w")
        [note] = DeliveryAttempt.select().where(DeliveryAttempt.outbox == ids["c1"])
        assert note.outcome == "lease_expired" and "crashed" in note.message
        assert Outbox.get_by_id(ids["d1"]).lease_owner == "crashed"  # a live lease is left alone

    def test_a_limit_below_the_number_of_targets_takes_the_earliest_due_targets(
        self, store_db: peewee.Database
    ) -> None:
        ids = mixed_targets()
        # A (due since 30 min) before B (25 min), although B's oldest row is due earlier than A's
        assert claim(3) == [ids["c1"], ids["d2"], ids["a2"]]
        assert claim(1) == [ids["a3"]]  # A is still the earliest due (a3, 30 min)
        assert claim(10) == [ids["b2"], ids["c2"]]
        assert claim(10) == [ids["b3"]]
        assert claim(10) == []

    def test_excluded_targets_are_left_out(self, store_db: peewee.Database) -> None:
        ids = mixed_targets()
        assert claim(10, exclude_targets={C, A}) == [ids["d2"], ids["b2"]]
        assert claim(10, exclude_targets=[A, B, C, D]) == []
        assert claim(10, exclude_targets=[B, D]) == [ids["c1"], ids["a2"]]

    def test_fifo_per_target_whatever_the_due_times(self, store_db: peewee.Database) -> None:
        later = add(A, "retrying", minutes(10))  # the oldest row, its retry not due yet
        newer = [add(A, "pending", minutes(-n)) for n in (1, 2, 3)]  # due earlier and earlier
        other = add(B, "pending", minutes(-1))
        assert claim(5) == [newer[0], other]
        assert claim(5) == [newer[1]]
        assert claim(5) == [newer[2]]
        assert claim(5) == []
        got = outbox.claim_due(
            "w", NOW + minutes(10), limit=5, lease_seconds=3600, one_per_target=True
        )
        assert [c.id for c in got] == [later]

    def test_an_abandoned_row_past_its_limits_goes_dead_instead(
        self, store_db: peewee.Database
    ) -> None:
        ids = mixed_targets()
        policy = RetryPolicy(max_attempts=1, max_age_seconds=86_400, backoff_base_seconds=5,
                             backoff_max_seconds=60, rng=random.Random(1))
        # C's first due row is dead now, so C gets nothing from this claim ...
        assert claim(10, policy=policy) == [ids["d2"], ids["b2"], ids["a2"]]
        dead = Outbox.get_by_id(ids["c1"])
        assert (dead.status, dead.attempts, dead.lease_owner) == ("dead", 1, None)
        assert "max_attempts" in dead.last_error
        # ... and its next row comes with the next claim
        assert claim(10, policy=policy) == [ids["a3"], ids["b3"], ids["c2"]]

    def test_two_claimers_never_share_a_row(self, store_db: peewee.Database) -> None:
        ids = [add(target, "pending", minutes(-n)) for n in range(12) for target in (A, B, C)]
        got = claim_in_threads(
            ["x", "y"],
            lambda name: outbox.claim_due(
                name, NOW, limit=2, lease_seconds=60, one_per_target=True
            ),
            store_db.close,
        )
        claimed = got["x"] + got["y"]
        assert sorted(claimed) == sorted(ids) and len(set(claimed)) == len(claimed)

    def test_finding_the_rows_seeks_the_claim_indexes(self, store_db: peewee.Database) -> None:
        # A sent history first (the oldest ids), then a backlog behind it: an index walk in id
        # order would read the whole history before the first due row.
        created = NOW - timedelta(days=1)
        Alert.insert_many([{"title": f"a{n}", "created_at": created} for n in range(3000)]).execute()
        alert_ids = [a.id for a in Alert.select(Alert.id).order_by(Alert.id)]
        rows = [
            {"alert": alert, "channel": "hook", "target": (A, B, C, D)[n % 4],
             "status": "sent" if n < 1000 else "retrying" if n % 50 == 0 else "pending",
             "next_attempt_at": created + timedelta(seconds=n), "created_at": created,
             "updated_at": created}
            for n, alert in enumerate(alert_ids)
        ]
        for start in range(0, len(rows), 200):
            Outbox.insert_many(rows[start : start + 200]).execute()
        add(A, "sending", minutes(-60), lease_in=minutes(-1))
        store_db.execute_sql("ANALYZE")  # the statistics of a database that has been running

        plan = explain(store_db)

        used = set(re.findall(r"outbox_status_target_\w+", plan))
        assert used == CLAIM_INDEXES, plan
        if is_sqlite(store_db):
            # every read of the outbox is a SEARCH on a claim index; no scan, no sort
            reads = [line for line in plan.splitlines() if re.search(r"\b(SCAN|SEARCH) o\b", line)]
            assert reads and all("INDEX outbox_status_target_" in line for line in reads), plan
            assert "TEMP B-TREE" not in plan, plan
        else:
            reads = [line for line in plan.splitlines() if " on outbox " in line]
            assert reads and all("using outbox_status_target_" in line for line in reads), plan
            assert not re.search(r"Seq Scan|Bitmap|Sort", plan), plan
        found = first_due_per_target(NOW)
        assert [f.target for f in found] == [A, B, C, D]

    def test_upgrade_from_version_3_adds_the_claim_indexes(self, store_target: str) -> None:
        db = open_database(store_target)
        migrate(db, now=NOW, steps=STEPS[:3])
        add(A, "pending", minutes(-1))
        assert not CLAIM_INDEXES & {i.name for i in db.get_indexes("outbox")}
        report = migrate(db, now=NOW)
        assert report.steps[0] == "4 outbox_claim_indexes"  # later steps follow it
        columns = {i.name: tuple(i.columns) for i in db.get_indexes("outbox")}
        assert columns["outbox_status_target_id"] == ("status", "target", "id")
        assert columns["outbox_status_target_next_attempt_at"] == (
            "status", "target", "next_attempt_at",
        )
        assert claim(5) == [Outbox.get().id]
        db.close()


def explain(db: peewee.Database) -> str:
    sql, params = first_due_sql(db.param), first_due_params(NOW)
    if is_sqlite(db):
        return "\n".join(row[3] for row in db.execute_sql("EXPLAIN QUERY PLAN " + sql, params))
    return "\n".join(row[0] for row in db.execute_sql("EXPLAIN (COSTS OFF) " + sql, params))

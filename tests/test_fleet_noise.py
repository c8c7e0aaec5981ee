"""Two workers (two connections, each in its own write transaction) cannot open one aggregation
bucket twice, fire one digest slot twice, or replay the same rules change twice: on SQLite and
PostgreSQL. `race` (test_fleet_support.py) holds the first transaction open until the second is
seen waiting for it, so the interleaving is the one that goes wrong without the guard."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import peewee
from pytest_httpserver import HTTPServer
from test_fleet_support import race
from test_noise_store import NOW, make_event
from test_replay_support import write_config
from test_replay_worker import new_config, stored_under_old_rules
from test_source_support import T0

from mrt.delivery import channels
from mrt.ops import replay as replay_ops
from mrt.store import noise
from mrt.store.cycle import rule_version_id
from mrt.store.models import (
    AggregateBucket,
    AggregateMember,
    Alert,
    AuditLog,
    DigestSchedule,
    RuleVersion,
)


def test_two_cycles_open_one_bucket_per_group(store_db: peewee.Database) -> None:
    a, b = make_event(1), make_event(2)
    first, second = race(
        store_db,
        lambda: noise.add_to_bucket(a, "group", ["team"], 10, NOW),
        lambda: noise.add_to_bucket(b, "group", ["ops"], 10, NOW + timedelta(seconds=1)),
    )
    assert first == second
    assert AggregateBucket.select().count() == 1
    assert AggregateMember.select().where(AggregateMember.bucket == first).count() == 2


def test_an_ended_unflushed_bucket_makes_way_for_a_new_one(store_db: peewee.Database) -> None:
    with store_db.atomic():
        old = noise.add_to_bucket(make_event(1), "group", ["team"], 10, NOW)
        later = NOW + timedelta(minutes=11)  # its window ended; the flush has not run yet
        new = noise.add_to_bucket(make_event(2), "group", ["team"], 10, later)
    assert new != old and noise.due_bucket_ids(later) == [old]
    with store_db.atomic():
        assert noise.claim_bucket(old, later) is not None
    assert noise.open_bucket("group").id == new  # type: ignore[union-attr]


def test_two_workers_fire_one_digest_slot_once(store_db: peewee.Database) -> None:
    fired = NOW.replace(hour=9, minute=0, second=0, microsecond=0)
    first, second = race(
        store_db,
        lambda: noise.claim_digest_firing("daily", fired, NOW),
        lambda: noise.claim_digest_firing("daily", fired, NOW + timedelta(seconds=1)),
    )
    assert (first, second) == (True, False)
    assert DigestSchedule.select().count() == 1


def test_two_workers_replay_one_rules_change_once(
    store_db: peewee.Database, tmp_path: Path, httpserver: HTTPServer
) -> None:
    db_path = tmp_path / "unused.sqlite3"  # the engine is given store_db itself
    stored_under_old_rules(store_db, db_path, tmp_path, httpserver)
    config = write_config(tmp_path / "new.json", new_config(httpserver, db_path, hours=24))
    targets = channels.resolve_targets(config, {})
    at = T0 + timedelta(hours=1)

    def replay() -> int:
        done = replay_ops.replay_after_rules_change(config, targets, db=store_db, now=at)
        return 0 if done is None else len(done.alert_ids)

    first, second = race(store_db, replay, replay)
    assert (first, second) == (2, 0)  # the two Qwen events of the last hour, once
    assert Alert.select().where(Alert.kind == "replay").count() == 2
    assert AuditLog.select().where(AuditLog.action == "replay").count() == 1


def test_two_workers_first_cycles_store_one_rule_version(store_db: peewee.Database) -> None:
    first, second = race(
        store_db,
        lambda: rule_version_id("digest-of-new-rules", {"rules": []}, NOW),
        lambda: rule_version_id("digest-of-new-rules", {"rules": []}, NOW),
    )
    assert first == second and RuleVersion.select().count() == 1


def test_two_workers_take_one_command_once(store_db: peewee.Database) -> None:
    from mrt.store import workers

    workers.submit_command("wake_senders", {}, NOW)
    first, second = race(
        store_db,
        lambda: [int(c.id) for c in workers.take_commands("a", NOW)],
        lambda: [int(c.id) for c in workers.take_commands("b", NOW)],
    )
    assert len(first) == 1 and second == []

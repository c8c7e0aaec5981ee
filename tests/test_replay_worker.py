"""delivery.rules_change_replay_hours: the worker, started with changed rules, replays the events
of the last N hours that no rule delivered then and the new rules deliver, once."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import peewee
import pytest
from pytest_httpserver import HTTPServer
from test_replay_support import config_data, make_engine, run_cycle, write_config
from test_source_support import T0, FakeClock, FakeGitHub, close, make_pool, recorded_issues

from mrt.config import load_config
from mrt.ops import replay as replay_ops
from mrt.rules import compile_rules
from mrt.store.models import Alert, AuditLog, Outbox, RuleVersion, database_proxy
from worker.assembly import build_runtime


def start_worker(db: peewee.Database, config_path: Path, at: datetime) -> None:
    rt = asyncio.run(
        build_runtime(str(config_path), env={}, pool=make_pool(FakeClock()), now=lambda: at)
    )
    rt.db.close()
    database_proxy.initialize(db)  # the runtime bound a connection of its own


def new_config(server: HTTPServer, db_path: Path, hours: int) -> dict[str, Any]:
    return config_data(
        server,
        db_path,
        watch_keywords=["deepseek", "qwen"],
        delivery={"rules_change_replay_hours": hours},
    )


def stored_under_old_rules(
    db: peewee.Database, db_path: Path, tmp_path: Path, httpserver: HTTPServer
) -> None:
    """Events of the last day stored under rules that told only DeepSeek; two Qwen events of
    the last hour and one of last week that new rules (deepseek, qwen) would tell."""
    old = write_config(tmp_path / "old.json", config_data(httpserver, db_path))
    engine = make_engine(db, old)
    issues = recorded_issues()
    FakeGitHub(httpserver, "PyGithub/PyGithub", issues)
    day_before = T0 - timedelta(hours=30)
    run_cycle(engine, day_before)  # baseline
    issues[0]["title"] = "Qwen2 from last week"  # newly matching, but older than 24 h
    close(issues[0], day_before + timedelta(minutes=5))
    run_cycle(engine, day_before + timedelta(minutes=10))
    for n, title in enumerate(["DeepSeek-V3 tokenizer", "Qwen3 support", "Qwen2.5 fix", "docs"]):
        issues[n + 1]["title"] = title
        close(issues[n + 1], T0 + timedelta(minutes=n))
    run_cycle(engine, T0 + timedelta(minutes=10))
    assert Alert.select().count() == 1  # DeepSeek, under the old rules


def test_a_changed_rule_set_replays_the_last_hours_once(
    db: peewee.Database, db_path: Path, tmp_path: Path, httpserver: HTTPServer
) -> None:
    stored_under_old_rules(db, db_path, tmp_path, httpserver)

    path = tmp_path / "new.json"
    write_config(path, new_config(httpserver, db_path, hours=0))
    start_worker(db, path, T0 + timedelta(hours=1))  # the policy is off by default
    assert Alert.select().count() == 1 and AuditLog.select().count() == 0

    write_config(path, new_config(httpserver, db_path, hours=24))
    start_worker(db, path, T0 + timedelta(hours=1))
    replayed = list(Alert.select().where(Alert.kind == "replay"))
    assert {a.title for a in replayed} == {"Qwen3 support", "Qwen2.5 fix"}
    assert Outbox.select().where(Outbox.status == "pending").count() == 3
    [entry] = AuditLog.select()
    assert entry.actor == "worker" and entry.action == "replay"
    assert "rules changed" in (entry.reason or "") and entry.result["deliveries"] == 2
    newest = RuleVersion.select().order_by(RuleVersion.id.desc()).get()
    assert newest.digest == compile_rules(load_config(path, env={})).digest

    start_worker(db, path, T0 + timedelta(hours=2))  # same rules again: nothing happens
    assert Alert.select().count() == 3 and AuditLog.select().count() == 1


def test_the_workers_replay_is_the_ops_action_audited_once_as_worker(
    db: peewee.Database,
    db_path: Path,
    tmp_path: Path,
    httpserver: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker replays through mrt.ops.replay.apply, the operator's own action: one audit
    row, action "replay", actor "worker", naming what it enqueued."""
    stored_under_old_rules(db, db_path, tmp_path, httpserver)
    real = replay_ops.apply
    actors: list[str] = []

    def recording(*args: Any, **kwargs: Any) -> Any:
        actors.append(kwargs["actor"])
        return real(*args, **kwargs)

    monkeypatch.setattr(replay_ops, "apply", recording)
    path = tmp_path / "new.json"
    write_config(path, new_config(httpserver, db_path, hours=24))
    start_worker(db, path, T0 + timedelta(hours=1))
    assert actors == ["worker"]
    replayed = [a.id for a in Alert.select().where(Alert.kind == "replay").order_by(Alert.id)]
    [entry] = AuditLog.select()
    assert (entry.actor, entry.action) == ("worker", "replay")
    assert entry.result["alerts"] == replayed and len(replayed) == 2
    assert entry.params["unmatched_only"] is True and entry.params["planned"] == 2


@pytest.mark.parametrize("failing_table", ["audit_log", "outbox"])
def test_a_failed_replay_leaves_neither_alerts_nor_its_audit_record(
    db: peewee.Database,
    db_path: Path,
    tmp_path: Path,
    httpserver: HTTPServer,
    caplog: pytest.LogCaptureFixture,
    failing_table: str,
) -> None:
    """The audit record commits with the replayed alerts or not at all: a write that fails at
    the end (the audit row) or in the middle (an outbox row) rolls back the whole replay, the
    worker starts anyway and logs why, and the next start replays once."""
    stored_under_old_rules(db, db_path, tmp_path, httpserver)
    versions = RuleVersion.select().count()
    pending = Outbox.select().count()
    trigger = f"CREATE TRIGGER refuse BEFORE INSERT ON {failing_table} BEGIN "
    db.execute_sql(trigger + "SELECT RAISE(ABORT, 'disk says no'); END")
    path = tmp_path / "new.json"
    write_config(path, new_config(httpserver, db_path, hours=24))
    with caplog.at_level(logging.ERROR, logger="mrt.worker"):
        start_worker(db, path, T0 + timedelta(hours=1))
    assert "replay after the rules change failed: disk says no" in caplog.text
    assert Alert.select().where(Alert.kind == "replay").count() == 0
    assert Outbox.select().count() == pending
    assert AuditLog.select().count() == 0
    assert RuleVersion.select().count() == versions  # so the next start tries again

    db.execute_sql("DROP TRIGGER refuse")
    start_worker(db, path, T0 + timedelta(hours=1, minutes=5))
    assert Alert.select().where(Alert.kind == "replay").count() == 2
    [entry] = AuditLog.select()
    assert (entry.actor, entry.action) == ("worker", "replay")

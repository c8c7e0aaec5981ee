"""delivery.rules_change_replay_hours: the worker, started with changed rules, replays the events
of the last N hours that no rule delivered then and the new rules deliver, once."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import peewee
from pytest_httpserver import HTTPServer
from test_replay_support import config_data, make_engine, run_cycle, write_config
from test_source_support import T0, FakeClock, FakeGitHub, close, make_pool, recorded_issues

from mrt.config import load_config
from mrt.rules import compile_rules
from mrt.store.models import Alert, AuditLog, Outbox, RuleVersion, database_proxy
from worker.runtime import build_runtime


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


def test_a_changed_rule_set_replays_the_last_hours_once(
    db: peewee.Database, db_path: Path, tmp_path: Path, httpserver: HTTPServer
) -> None:
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

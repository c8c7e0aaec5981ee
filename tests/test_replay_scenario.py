"""The issue's scenario, end to end: events stored under an old rule set by real cycles, the rules
change, `mrt rules test` shows the difference, `mrt replay --dry-run` lists exactly those
events, `mrt replay --yes` delivers them once (through the real sender and the real json://
channel to a loopback sink), and running it again delivers nothing."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import peewee
import pytest
from pytest_httpserver import HTTPServer
from test_replay_support import Sink, config_data, drain, make_engine, run_cycle, write_config
from test_source_support import T0, FakeGitHub, close, recorded_issues

from mrt.cli import main
from mrt.events import utcnow
from mrt.rules import compile_rules
from mrt.store.models import Alert, AuditLog, Event, Outbox, RuleVersion, database_proxy

SINCE = "2026-11-01"
NEW_TITLES = {"Qwen3 support in the tokenizer", "Qwen2.5: fix the chat template"}


def cli(db: peewee.Database, *argv: str) -> int:
    code = main(list(argv))
    database_proxy.initialize(db)  # the command bound (and closed) a connection of its own
    return code


def plan_titles(out: str) -> set[str]:
    """Titles on the dry run's event lines: `  2026-11-22 09:10  github:o/r  TITLE  -> hook`."""
    return {line.split("  ")[3] for line in out.splitlines() if line.startswith("  2026-")}


def test_rules_change_then_replay_delivers_exactly_the_new_matches_once(
    db: peewee.Database,
    db_path: Path,
    tmp_path: Path,
    httpserver: HTTPServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sink = Sink(httpserver)
    old = write_config(tmp_path / "old.json", config_data(httpserver, db_path))
    engine = make_engine(db, old)
    issues = recorded_issues()
    FakeGitHub(httpserver, "PyGithub/PyGithub", issues)
    run_cycle(engine, T0)  # baseline: snapshots only, nothing told
    titles = ["DeepSeek-V3 tokenizer", *sorted(NEW_TITLES), "Fix the docs build"]
    for n, title in enumerate(titles):
        issues[n]["title"] = title
        close(issues[n], T0 + timedelta(minutes=5 + n))
    report = run_cycle(engine, T0 + timedelta(minutes=10))
    assert (report.new_events, report.alerts) == (4, 1)
    assert drain(old, utcnow() + timedelta(minutes=1)) == 1
    [first] = sink.received
    assert "DeepSeek-V3 tokenizer" in str(first)

    # the rules change: qwen matters now
    new_path = tmp_path / "new.json"
    new = write_config(
        new_path, config_data(httpserver, db_path, watch_keywords=["deepseek", "qwen"])
    )
    assert compile_rules(new).digest != compile_rules(old).digest
    common = ["--config", str(new_path), "--db", str(db_path)]

    assert cli(db, "rules", "test", *common, "--since", SINCE) == 0
    rules_out = capsys.readouterr().out
    assert "would now be told, and were not: 2" in rules_out
    assert all(title in rules_out for title in NEW_TITLES)

    assert cli(db, "replay", *common, "--since", SINCE, "--dry-run") == 0
    dry = capsys.readouterr().out
    assert dry.startswith("2 events would be sent (2 deliveries) of 4 stored")
    assert plan_titles(dry) == NEW_TITLES
    assert "-> hook" in dry and "already delivered 1" in dry and "rules now decide none 1" in dry
    assert Outbox.select().count() == 1 and AuditLog.select().count() == 0

    # no terminal and no --yes: refuse, send nothing
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert cli(db, "replay", *common, "--since", SINCE) == 1
    assert "pass --yes" in capsys.readouterr().err
    assert Outbox.select().count() == 1

    assert cli(db, "replay", *common, "--since", SINCE, "--yes", "--reason", "qwen now") == 0
    out = capsys.readouterr().out
    assert "enqueued 2 deliveries in 2 alerts" in out
    replayed = list(Alert.select().where(Alert.kind == "replay").order_by(Alert.id))
    assert {a.title for a in replayed} == NEW_TITLES
    version = RuleVersion.get(RuleVersion.digest == compile_rules(new).digest)
    assert {a.rule_version_id for a in replayed} == {version.id}
    assert all(a.payload["replay"]["reason"] == "qwen now" for a in replayed)
    [entry] = AuditLog.select()
    assert (entry.actor, entry.action, entry.reason) == ("cli", "replay", "qwen now")
    assert entry.result["alerts"] == [a.id for a in replayed] and entry.result["deliveries"] == 2

    assert drain(new, utcnow() + timedelta(minutes=1)) == 2
    delivered = [str(m) for m in sink.received[1:]]
    assert len(delivered) == 2
    assert all(any(title in m for m in delivered) for title in NEW_TITLES)

    # again: nothing new, whether dry or not
    assert cli(db, "replay", *common, "--since", SINCE, "--yes") == 0
    again = capsys.readouterr().out
    assert again.startswith("0 events to send") and "nothing to replay" in again
    assert "already delivered 3" in again
    assert Outbox.select().count() == 3 and drain(new, utcnow() + timedelta(minutes=2)) == 0
    assert len(sink.received) == 3

    # --resend would send everything that matches again (the DeepSeek one included)
    assert cli(db, "replay", *common, "--since", SINCE, "--resend", "--dry-run") == 0
    assert plan_titles(capsys.readouterr().out) == {"DeepSeek-V3 tokenizer", *NEW_TITLES}

    # the stored events keep what was decided when they were observed, by the old version
    qwen = Event.get(Event.title == "Qwen3 support in the tokenizer")
    assert qwen.decision == "none"
    assert qwen.rule_version.digest == compile_rules(old).digest

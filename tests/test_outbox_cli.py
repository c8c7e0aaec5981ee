"""`mrt outbox` and `mrt trace` through mrt.cli.main, on a real SQLite file and loopback sinks."""

from __future__ import annotations

import asyncio
import io
import json
import random
from datetime import timedelta
from pathlib import Path

import peewee
import pytest
from pytest_httpserver import HTTPServer
from test_outbox_support import T0, add_sink, config, enqueue_alerts, http_send, make_alert

from mrt.cli import main
from mrt.delivery.base import Message, Target
from mrt.delivery.sender import Sender
from mrt.store.models import AuditLog, DeliveryAttempt, Outbox, database_proxy
from mrt.store.outbox import enqueue


def cli(db: peewee.Database, db_path: Path, *argv: str) -> int:
    code = main([*argv[:1], "--db", str(db_path), *argv[1:]])
    database_proxy.initialize(db)  # the command bound (and closed) a connection of its own
    return code


def drive_until_dead(sender: Sender, row_id: int) -> None:
    now = T0
    while Outbox.get_by_id(row_id).status != "dead":
        asyncio.run(sender.run_once(now))
        row = Outbox.get_by_id(row_id)
        now = max(now, row.next_attempt_at)


def test_always_failing_target_ends_dead_and_cli_retry_delivers_it(
    db: peewee.Database, db_path: Path, httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    sink, target = add_sink(httpserver, "welink")
    sink.always(500)
    [row_id] = enqueue_alerts(T0, [target])
    sender = Sender(config(max_attempts=4, min_interval_seconds=0), {"welink": [target]},
                    http_send, owner="w", rng=random.Random(3))
    drive_until_dead(sender, row_id)
    assert [a.outcome for a in DeliveryAttempt.select()] == ["retry"] * 3 + ["dead"]
    assert sink.received == []

    sink.recover()
    capsys.readouterr()
    assert cli(db, db_path, "outbox", "retry", "--all-dead") == 1  # no tty, no --yes: nothing done
    assert Outbox.get_by_id(row_id).status == "dead"
    assert cli(db, db_path, "outbox", "retry", "--all-dead", "--yes", "--reason", "robot fixed") == 0
    out = capsys.readouterr().out
    assert "1 dead deliveries (ids up to" in out and "retried 1" in out
    row = Outbox.get_by_id(row_id)
    assert (row.status, row.attempts) == ("pending", 4)

    report = asyncio.run(sender.run_once(row.next_attempt_at))
    assert report.sent == 1 and len(sink.received) == 1
    audit = AuditLog.get()
    assert (audit.actor, audit.action, audit.reason, audit.result["ids"]) == (
        "cli", "outbox.retry", "robot fixed", [row_id])


def test_outbox_json_lists_dead_first_and_parses(
    db: peewee.Database, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = Target(channel="welink", key="welink://robot/***", url="welink://robot/secret")
    ids = enqueue_alerts(T0, [target], count=3)
    Outbox.update(status="dead", last_error="HTTP 500: robot busy").where(Outbox.id == ids[0]).execute()

    assert cli(db, db_path, "outbox", "--json", "--limit", "2") == 4  # a dead one is listed
    data = json.loads(capsys.readouterr().out)
    assert [d["id"] for d in data["deliveries"]] == [ids[0], ids[2]]
    assert data["counts"]["dead"] == 1 and data["counts"]["pending"] == 2
    assert data["next_after_id"] == ids[2]
    assert data["deliveries"][0]["source_key"] == "github:vllm-project/vllm"

    assert cli(db, db_path, "outbox", "--status", "dead") == 4  # dead letters listed: look
    table = capsys.readouterr().out
    assert "HTTP 500: robot busy" in table and "welink://robot/***" in table and "secret" not in table


def test_retry_and_discard_by_id_say_what_they_could_not_do(
    db: peewee.Database, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = Target(channel="welink", key="welink://robot/***", url="welink://robot/secret")
    first, second = enqueue_alerts(T0, [target], count=2)
    Outbox.update(status="sent").where(Outbox.id == second).execute()

    assert cli(db, db_path, "outbox", "discard", str(first), str(second), "999", "--yes",
               "--reason", "spam") == 1
    captured = capsys.readouterr()
    assert "discarded 1 of 3" in captured.out
    assert f"#{second} is sent" in captured.err and "#999: no such delivery" in captured.err
    assert Outbox.get_by_id(first).status == "discarded"
    assert cli(db, db_path, "outbox", "retry", str(first)) == 1
    assert [a.action for a in AuditLog.select().order_by(AuditLog.id)] == ["outbox.discard", "outbox.retry"]
    assert main(["outbox", "--db", str(db_path.parent / "missing.sqlite3")]) == 1
    assert "there is no database at" in capsys.readouterr().err
    database_proxy.initialize(db)


def test_trace_follows_an_event_to_every_attempt(
    db: peewee.Database, db_path: Path, httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    welink_sink, welink = add_sink(httpserver, "welink", secret="wl-secret-123")
    _, email = add_sink(httpserver, "email")
    welink_sink.fail_next(2, 500, {"code": "58500", "echo": "wl-secret-123"})
    fingerprint = "3f2a9c1d" + "e" * 56
    alert_id = make_alert(T0, fingerprint=fingerprint)
    for t in (welink, email):
        enqueue(alert_id, t.channel, t.key, Message("vllm v0.7.0", "body"), T0)
    sender = Sender(config(min_interval_seconds=0), {"welink": [welink], "email": [email]},
                    http_send, owner="w", rng=random.Random(5))
    now = T0
    for _ in range(3):
        asyncio.run(sender.run_once(now))
        now += timedelta(hours=1)

    assert cli(db, db_path, "trace", fingerprint[:10], "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["event"]["fingerprint"] == fingerprint
    [alert] = data["alerts"]
    assert alert["matched"] == [{"rule": "releases", "reasons": ["event_type is release_published"]}]
    by_channel = {d["channel"]: d for d in alert["deliveries"]}
    assert [a["outcome"] for a in by_channel["welink"]["attempt_log"]] == ["retry", "retry", "sent"]
    assert [a["outcome"] for a in by_channel["email"]["attempt_log"]] == ["sent"]
    assert by_channel["welink"]["attempt_log"][0]["http_status"] == 500

    assert cli(db, db_path, "trace", str(alert_id)) == 0
    text = capsys.readouterr().out
    assert "vllm v0.7.0 released" in text and "matched releases: event_type is release_published" in text
    assert text.count("HTTP 500") == 2 and "wl-secret-123" not in text

    assert cli(db, db_path, "trace", "deadbeefdeadbeef") == 1
    assert "no event has the fingerprint 'deadbeefdeadbeef'" in capsys.readouterr().err


def test_trace_refs_short_ambiguous_and_alert_forms(
    db: peewee.Database, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = make_alert(T0, title="one", fingerprint="abcdef01" + "1" * 56)
    make_alert(T0, title="two", fingerprint="abcdef01" + "2" * 56)
    assert cli(db, db_path, "trace", "abcdef01") == 1
    assert "matches more than one event" in capsys.readouterr().err
    assert cli(db, db_path, "trace", "abcd") == 1  # too short to be a prefix
    assert "at least 8 characters" in capsys.readouterr().err
    assert cli(db, db_path, "trace", f"alert:{first}", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["alerts"][0]["title"] == "one" and data["alerts"][0]["deliveries"] == []
    assert cli(db, db_path, "trace", "#999") == 1
    assert "there is no alert with id 999" in capsys.readouterr().err


class Terminal(io.StringIO):
    """Standard input as an operator's terminal, with the answer they will type."""

    def isatty(self) -> bool:
        return True


def test_discard_asks_on_a_terminal_and_refuses_without_one_or_yes(
    db: peewee.Database, db_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = Target(channel="welink", key="welink://robot/***", url="welink://robot/secret")
    [row_id] = enqueue_alerts(T0, [target])

    assert cli(db, db_path, "outbox", "discard", str(row_id)) == 1  # no terminal, no --yes
    assert "nothing done: confirm at the prompt, or pass --yes" in capsys.readouterr().err
    assert Outbox.get_by_id(row_id).status == "pending"

    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    assert cli(db, db_path, "outbox", "discard", str(row_id)) == 1  # the operator said no
    assert f"discard #{row_id}: never sent (cannot be undone)? [y/N]" in capsys.readouterr().out
    assert Outbox.get_by_id(row_id).status == "pending"

    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    assert cli(db, db_path, "outbox", "discard", str(row_id), "--reason", "spam") == 0
    assert Outbox.get_by_id(row_id).status == "discarded"
    assert [a.action for a in AuditLog.select()] == ["outbox.discard"]

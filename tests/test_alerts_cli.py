"""`mrt alerts ack`: asks first (scripts pass --yes), names unknown ids, keeps the first ack."""

from __future__ import annotations

from pathlib import Path

import peewee
import pytest
from tui_seed import add_alert

from mrt.cli import main
from mrt.store.models import Alert, AuditLog, database_proxy


def cli(db: peewee.Database, db_path: Path, *argv: str) -> int:
    code = main([*argv, "--db", str(db_path)])
    database_proxy.initialize(db)  # the command bound (and closed) a connection of its own
    return code


def test_without_yes_and_no_terminal_nothing_is_acknowledged(
    db: peewee.Database, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alert = add_alert("DeepSeek-V4 released")
    assert cli(db, db_path, "alerts", "ack", str(alert)) == 1
    assert "pass --yes" in capsys.readouterr().err
    assert Alert.get_by_id(alert).acknowledged_at is None
    assert AuditLog.select().count() == 0


def test_ack_with_yes_marks_audits_and_keeps_the_first(
    db: peewee.Database, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = add_alert("one"), add_alert("two")
    assert cli(db, db_path, "alerts", "ack", str(first), "--yes", "--reason", "seen") == 0
    assert "acknowledged 1 of 1" in capsys.readouterr().out
    row = Alert.get_by_id(first)
    assert row.acknowledged_at is not None and row.acknowledged_by.startswith("cli")
    audit = AuditLog.get()
    assert (audit.actor, audit.action, audit.params, audit.reason, audit.result) == (
        "cli", "alert.acknowledge", {"alert_ids": [first]}, "seen", {"acknowledged": 1})

    assert cli(db, db_path, "alerts", "ack", str(first), str(second), "--yes") == 0
    assert "acknowledged 1 of 2 (1 already acknowledged)" in capsys.readouterr().out
    assert Alert.get_by_id(first).acknowledged_at == row.acknowledged_at


def test_unknown_ids_are_named_and_the_exit_code_says_so(
    db: peewee.Database, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alert = add_alert("one")
    assert cli(db, db_path, "alerts", "ack", str(alert), "999", "--yes") == 1
    captured = capsys.readouterr()
    assert "#999: no such alert" in captured.err and "acknowledged 1 of 1" in captured.out
    assert cli(db, db_path, "alerts", "ack", "998", "--yes") == 1
    assert "#998: no such alert" in capsys.readouterr().err


def test_unack_takes_it_back_and_the_audit_keeps_who_had_acknowledged(
    db: peewee.Database, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = add_alert("one"), add_alert("two")
    assert cli(db, db_path, "alerts", "ack", str(first), "--yes") == 0
    who = Alert.get_by_id(first).acknowledged_by
    capsys.readouterr()
    assert cli(db, db_path, "alerts", "unack", str(first), str(second), "--reason", "not done") == 0
    assert "unacknowledged 1 of 2 (1 were not acknowledged)" in capsys.readouterr().out
    row = Alert.get_by_id(first)
    assert row.acknowledged_at is None and row.acknowledged_by is None
    audit = AuditLog.select().order_by(AuditLog.id.desc()).first()
    assert (audit.actor, audit.action, audit.params, audit.reason) == (
        "cli", "alert.unacknowledge", {"alert_ids": [first, second]}, "not done")
    assert audit.result == {"unacknowledged": 1, "were_acknowledged_by": {str(first): who}}
    # acknowledged again afterwards: a new first person and time
    assert cli(db, db_path, "alerts", "ack", str(first), "--yes") == 0
    assert Alert.get_by_id(first).acknowledged_at is not None
    assert cli(db, db_path, "alerts", "unack", "997") == 1
    assert "#997: no such alert" in capsys.readouterr().err

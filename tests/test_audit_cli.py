"""`mrt audit` through mrt.cli.main on a real SQLite file: the rows the operator actions wrote."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import peewee
import pytest

from mrt.cli import main
from mrt.events import utcnow
from mrt.ops import silences as silence_ops
from mrt.ops import sources as source_ops
from mrt.store.models import AuditLog, SourceState, database_proxy


def mrt(db: peewee.Database, *argv: str) -> int:
    code = main(list(argv))
    database_proxy.initialize(db)  # the command bound (and closed) a connection of its own
    return code


def audit_json(db: peewee.Database, db_path: Path, capsys: pytest.CaptureFixture[str],
               *argv: str) -> list[dict[str, object]]:
    assert mrt(db, "audit", "--db", str(db_path), "--json", *argv) == 0
    data: list[dict[str, object]] = json.loads(capsys.readouterr().out)["entries"]
    return data


def test_every_action_is_listed_newest_first_and_filters_apply(
    db: peewee.Database, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert mrt(db, "silence", "add", "--db", str(db_path), "--match", "keywords=deepseek",
               "--for", "2h", "--reason", "release week") == 0
    assert mrt(db, "silence", "expire", "--db", str(db_path), "1", "--reason", "over") == 0
    now = utcnow()
    SourceState.create(source_key="github:a/b", source="github", updated_at=now)
    source_ops.poll_now("github:a/b", now=now, actor="tui")
    # an old action, from the worker, outside --since 1d
    AuditLog.create(at=now - timedelta(days=3), actor="worker", action="replay",
                    params={"since": "2026-11-01"}, result={"alerts": []})
    capsys.readouterr()

    rows = audit_json(db, db_path, capsys)
    assert [r["action"] for r in rows] == ["replay", "source.poll", "silence.expire",
                                           "silence.create"]
    expire, create = rows[2], rows[3]
    assert (create["actor"], create["target"], create["reason"]) == ("cli", "silence #1",
                                                                     "release week")
    assert create["params"]["matcher"] == {"keywords": "deepseek"}  # type: ignore[index]
    assert create["result"] == {"id": 1}
    assert expire["target"] == "silence #1" and expire["reason"] == "over"
    assert rows[1]["target"] == "github:a/b" and rows[1]["actor"] == "tui"

    assert [r["action"] for r in audit_json(db, db_path, capsys, "--action", "silence")] == [
        "silence.expire", "silence.create"]
    assert [r["action"] for r in audit_json(db, db_path, capsys, "--action",
                                            "silence.create")] == ["silence.create"]
    assert [r["actor"] for r in audit_json(db, db_path, capsys, "--actor", "tui")] == ["tui"]
    assert "replay" not in [r["action"] for r in audit_json(db, db_path, capsys, "--since", "1d")]
    assert len(audit_json(db, db_path, capsys, "--limit", "2")) == 2

    assert mrt(db, "audit", "--db", str(db_path)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert "cli" in lines[3] and "silence.create" in lines[3] and "silence #1" in lines[3]
    assert "reason: release week" in lines[3] and "-> id=1" in lines[3]


def test_operator_text_is_inert_and_bad_input_is_named(
    db: peewee.Database, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = utcnow()
    silence_ops.create({"keywords": "x"}, expires_at=now + timedelta(hours=1), now=now,
                       actor="cli", reason="\x1b]52;c;aGk=\x07 evil\u202e")
    assert mrt(db, "audit", "--db", str(db_path)) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out and "evil" in out
    assert audit_json(db, db_path, capsys)[0]["reason"] == "\x1b]52;c;aGk=\x07 evil\u202e"

    assert mrt(db, "audit", "--db", str(db_path), "--since", "yesterday") == 2
    err = capsys.readouterr().err
    assert "--since" in err and "'yesterday'" in err and "12h" in err
    assert mrt(db, "audit", "--db", str(db_path), "--limit", "0") == 2
    assert "--limit" in capsys.readouterr().err


def test_an_empty_log_says_so(
    db: peewee.Database, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert mrt(db, "audit", "--db", str(db_path)) == 0
    assert capsys.readouterr().out.strip() == "no operator actions recorded yet"
    assert audit_json(db, db_path, capsys) == []

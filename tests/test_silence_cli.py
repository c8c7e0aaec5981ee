"""`mrt silence add|list|expire` through mrt.cli.main on a real SQLite file, with audit rows."""

from __future__ import annotations

import json
from pathlib import Path

import peewee
import pytest

from mrt.cli import main
from mrt.store.models import AuditLog, Silence, database_proxy


def cli(db: peewee.Database, db_path: Path, *argv: str) -> int:
    code = main(["silence", *argv[:1], "--db", str(db_path), *argv[1:]])
    database_proxy.initialize(db)  # the command bound (and closed) a connection of its own
    return code


def test_add_list_expire_with_audit(
    db: peewee.Database, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli(
        db,
        db_path,
        "add",
        "--match",
        "source_key=github:vllm-project/*",
        "--match",
        "keywords=deepseek",
        "--match",
        "keywords=qwen",
        "--for",
        "2h",
        "--reason",
        "release week",
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "silence #1 created: source_key=github:vllm-project/* keywords=deepseek,qwen" in out
    row = Silence.get()
    assert row.matcher == {"source_key": "github:vllm-project/*", "keywords": ["deepseek", "qwen"]}
    assert 7190 < (row.expires_at - row.created_at).total_seconds() <= 7200
    assert (row.created_by, row.reason) == ("cli", "release week")

    assert cli(db, db_path, "list") == 0
    listed = capsys.readouterr().out
    assert "#1  active" in listed and "(release week)" in listed
    assert cli(db, db_path, "list", "--json") == 0
    [data] = json.loads(capsys.readouterr().out)
    assert data["id"] == 1 and data["active"] is True and data["matcher"] == row.matcher

    assert cli(db, db_path, "expire", "1", "--reason", "over") == 0
    assert "silence #1 expired" in capsys.readouterr().out
    assert cli(db, db_path, "list") == 0
    assert "no active silences" in capsys.readouterr().out
    assert cli(db, db_path, "list", "--all") == 0
    assert "#1  expired" in capsys.readouterr().out

    assert cli(db, db_path, "expire", "1") == 1
    assert "silence #1 is not active" in capsys.readouterr().err
    assert cli(db, db_path, "expire", "7") == 1
    assert "there is no silence #7" in capsys.readouterr().err

    audit = [(a.actor, a.action, a.params["silence"], a.reason) for a in AuditLog.select()]
    assert audit == [
        ("cli", "silence.create", 1, "release week"),
        ("cli", "silence.expire", 1, "over"),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--match", "regex=(?<=x)deepseek", "--for", "1h"],
            "silence.matcher.regex.pattern: invalid regular expression '(?<=x)deepseek'",
        ),
        (["--match", "regex=a", "--match", "regex=b", "--for", "1h"], "give regex once"),
        (["--match", "titel=x", "--for", "1h"], "unknown matcher key 'titel'"),
        (["--match", "keywords", "--for", "1h"], "expected KEY=VALUE"),
        (["--match", "keywords=x", "--for", "2 hours"], "--for: expected a span"),
        (["--match", "keywords=x", "--until", "tomorrow"], "--until: expected a date"),
        (["--match", "keywords=x", "--until", "2001-01-01"], "not after now"),
    ],
)
def test_bad_input_is_a_clear_error_with_exit_2(
    db: peewee.Database,
    db_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    assert cli(db, db_path, "add", *args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert Silence.select().count() == 0 and AuditLog.select().count() == 0

"""What `mrt check` (and `mrt db check`) promise before the worker migrates an older database is
true: an SQLite file is copied first, into state.backup_dir when the config names one; nothing
backs up PostgreSQL, so the text says so and how to take one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mrt.cli import main
from mrt.store.db import open_database
from mrt.store.migrations import LATEST, STEPS, migrate


def at_version_1(target: str) -> None:
    db = open_database(target)
    migrate(db, steps=STEPS[:1])
    db.close()


def check(tmp_path: Path, state: dict[str, str], capsys: pytest.CaptureFixture[str]) -> str:
    config = tmp_path / "mrt.json"
    config.write_text(json.dumps({"version": 1, "state": state}), encoding="utf-8")
    code = main(["check", "--config", str(config)])
    out = capsys.readouterr().out
    assert code == 0, out  # an older schema is a warning: the worker migrates it
    (line,) = [line for line in out.splitlines() if " database: " in line]
    return line


@pytest.mark.parametrize("backup_dir", [None, "bk"])
def test_sqlite_says_where_the_backup_before_the_migration_goes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], backup_dir: str | None
) -> None:
    path = tmp_path / "mrt.sqlite3"
    at_version_1(str(path))
    state = {"sqlite_path": str(path)}
    if backup_dir:
        state["backup_dir"] = str(tmp_path / backup_dir)
    line = check(tmp_path, state, capsys)
    assert line.startswith("warn ")
    assert f"schema version 1: the worker migrates it to version {LATEST} on start" in line
    assert f"after a backup into {tmp_path / backup_dir if backup_dir else tmp_path} " in line


@pytest.mark.postgres
def test_postgresql_is_said_not_to_be_backed_up_and_how_to_do_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fresh_pg_url: str
) -> None:
    at_version_1(fresh_pg_url)
    line = check(tmp_path, {"url": fresh_pg_url}, capsys)
    assert "after a backup" not in line
    assert "PostgreSQL is not backed up automatically: take a backup first" in line
    assert "take a backup first with `mrt db backup mrt-before-upgrade.dump`" in line

    assert main(["db", "check", "--db", fresh_pg_url]) == 1  # not at the latest version
    out = capsys.readouterr().out
    assert "take a backup first (`mrt db backup` runs pg_dump; nothing backs PostgreSQL up " \
        "automatically)" in out
    assert "a backup is taken first" not in out

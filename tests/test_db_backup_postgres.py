"""`mrt db backup` per backend: pg_dump on PostgreSQL (custom format, the password only through
PGPASSWORD), a plain "install the client tools" when pg_dump is missing, and `mrt check`'s
backup line telling what really precedes a migration on each backend. The pg_dump command
line is checked with a stand-in program on PATH (always); the real dump runs against the
server in MRT_TEST_PG_URL (skipped without one)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mrt.cli import main
from mrt.errors import StoreError
from mrt.store.backup import pg_dump, split_password
from mrt.store.db import open_database
from mrt.store.models import AuditLog

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
PASSWORD = "p@ss/w:rd%secret"
URL = "postgresql://mrt:p%40ss%2Fw%3Ard%25secret@127.0.0.1:5999/mrt_db?sslmode=disable"

STAND_IN = """#!/bin/sh
# records how it was called, then behaves like pg_dump (or fails, when told to)
printf '%s\\n' "$@" > "{record}.argv"
printf '%s' "$PGPASSWORD" > "{record}.password"
if [ -n "$FAIL" ]; then
  echo "pg_dump: error: connection failed for password $PGPASSWORD" >&2
  exit 1
fi
for arg in "$@"; do
  case "$arg" in --file=*) printf 'PGDMP-stand-in' > "${{arg#--file=}}" ;; esac
done
"""


def stand_in(tmp_path: Path) -> tuple[Path, Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "called"
    program = bin_dir / "pg_dump"
    program.write_text(STAND_IN.format(record=record), encoding="utf-8")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return bin_dir, record


def test_the_password_leaves_the_url_and_is_decoded() -> None:
    conninfo, password = split_password(URL)
    assert password == PASSWORD
    assert conninfo == "postgresql://mrt@127.0.0.1:5999/mrt_db?sslmode=disable"
    assert split_password("postgresql://h/db?password=x%26y&sslmode=require") == (
        "postgresql://h/db?sslmode=require", "x&y")


def test_pg_dump_runs_in_custom_format_with_the_password_in_its_environment(
    tmp_path: Path,
) -> None:
    bin_dir, record = stand_in(tmp_path)
    dest = tmp_path / "dumps"
    dest.mkdir()
    written = pg_dump(URL, dest, now=NOW, env={"PATH": str(bin_dir)})

    assert written == dest / "mrt_db.backup-20261120T090000Z.dump"
    assert written.read_text() == "PGDMP-stand-in"
    argv = record.with_suffix(".argv").read_text().splitlines()
    assert argv == ["--format=custom", f"--file={written}", "--no-password",
                    "--dbname=postgresql://mrt@127.0.0.1:5999/mrt_db?sslmode=disable"]
    assert record.with_suffix(".password").read_text() == PASSWORD
    with pytest.raises(StoreError, match="already exists"):
        pg_dump(URL, written, now=NOW, env={"PATH": str(bin_dir)})


def test_a_failed_pg_dump_is_said_without_the_password_and_leaves_no_file(
    tmp_path: Path,
) -> None:
    bin_dir, _ = stand_in(tmp_path)
    dest = tmp_path / "mrt.dump"
    with pytest.raises(StoreError) as caught:
        pg_dump(URL, dest, now=NOW, env={"PATH": str(bin_dir), "FAIL": "1"})
    text = str(caught.value)
    assert text.startswith("pg_dump failed (exit 1): pg_dump: error: connection failed")
    assert PASSWORD not in text and "***" in text
    assert not dest.exists()


def test_without_pg_dump_the_cli_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump anywhere
    monkeypatch.chdir(tmp_path)
    assert main(["db", "backup", "--db", URL]) == 1
    out = capsys.readouterr()
    assert "pg_dump is not installed here" in out.err and "postgresql-client" in out.err
    assert PASSWORD not in out.err + out.out and "p%40ss" not in out.err + out.out
    assert "Traceback" not in out.err
    assert list(tmp_path.iterdir()) == []


def check_backup_line(tmp_path: Path, state: dict[str, str],
                      capsys: pytest.CaptureFixture[str]) -> str:
    config = tmp_path / "mrt.json"
    config.write_text(json.dumps({"version": 1, "state": state}), encoding="utf-8")
    main(["check", "--config", str(config)])
    out = capsys.readouterr().out
    lines = out.splitlines()
    (line,) = [n for n in lines if " backup: " in n]
    # after the database line it speaks for
    assert any(" database: " in n for n in lines[: lines.index(line)])
    return line


def test_check_says_sqlite_is_copied_before_a_migration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = check_backup_line(tmp_path, {"sqlite_path": str(tmp_path / "mrt.sqlite3"),
                                        "backup_dir": str(tmp_path / "bk")}, capsys)
    assert line.startswith("ok    backup: before a migration the worker and `mrt db migrate` "
                           f"copy the SQLite file into {tmp_path / 'bk'}")


def test_check_says_postgresql_is_not_backed_up_and_whether_pg_dump_is_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bin_dir, _ = stand_in(tmp_path)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    line = check_backup_line(tmp_path, {"url": URL}, capsys)
    assert line.startswith("ok    backup: PostgreSQL is not backed up automatically before a "
                           "migration: run `mrt db backup` first")
    assert str(bin_dir / "pg_dump") in line

    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    line = check_backup_line(tmp_path, {"url": URL}, capsys)
    assert line.startswith("warn  backup: PostgreSQL is not backed up automatically before a "
                           "migration, and pg_dump is not installed here")
    assert PASSWORD not in line


@pytest.mark.postgres
@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed")
def test_mrt_db_backup_dumps_a_real_postgresql_database(
    tmp_path: Path, fresh_pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "migrate", "--db", fresh_pg_url]) == 0
    capsys.readouterr()
    dest = tmp_path / "mrt.dump"

    assert main(["db", "backup", str(dest), "--db", fresh_pg_url]) == 0

    out = capsys.readouterr()
    assert out.out.strip() == str(dest)
    _, password = split_password(fresh_pg_url)
    if password:
        assert password not in out.out + out.err
    assert dest.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    listed = subprocess.run(["pg_restore", "--list", str(dest)], capture_output=True, text=True,
                            timeout=60, check=True).stdout
    assert "TABLE public outbox" in listed
    db = open_database(fresh_pg_url)
    try:
        (record,) = AuditLog.select().where(AuditLog.action == "db.backup")
        assert record.actor == "cli" and record.params == {"dest": str(dest), "tool": "pg_dump"}
    finally:
        db.close()

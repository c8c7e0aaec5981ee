"""Issue 19: a zero-length database file (item 10) and SIGHUP with another database (item 8).

An empty file where the database was is refused when a backup of it holds source cursors
(`mrt-worker` exits 1 naming the backup to restore; `mrt check` says error) and started afresh
with a loud WARNING otherwise. A reload whose config names another database keeps the running
one and says that a restart is needed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from db_faults import restore_logging  # noqa: F401 (a fixture, used through pytestmark)
from pytest_httpserver import HTTPServer
from soak.process import child_env
from test_noise_support import REPO
from test_source_support import T0, FakeClock, FakeGitHub, make_pool, recorded_issues

from mrt.cli import main as mrt_main
from mrt.store.backup import backup, default_backup_path
from mrt.store.models import SourceState
from worker.assembly import Runtime, build_runtime, reload
from worker.main import main as worker_main
from worker.runtime import run_once

pytestmark = pytest.mark.usefixtures("restore_logging")

KEY = f"github:{REPO}"


def write_config(path: Path, db_file: Path, server: HTTPServer) -> Path:
    config = {
        "version": 1,
        "state": {"sqlite_path": str(db_file)},
        "sources": {"github": {"repos": [REPO], "base_url": server.url_for("/")}},
    }
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def baselined(config: Path) -> Runtime:
    async def build() -> Runtime:
        rt = await build_runtime(str(config), env={}, pool=make_pool(FakeClock()))
        await run_once(rt, lambda: T0)
        return rt

    return asyncio.run(build())


def test_an_emptied_database_with_a_backup_holding_cursors_is_refused(
    tmp_path: Path, httpserver: HTTPServer, capsys: pytest.CaptureFixture[str],
) -> None:
    FakeGitHub(httpserver, REPO, recorded_issues())
    db_file = tmp_path / "mrt.sqlite3"
    config = write_config(tmp_path / "mrt.json", db_file, httpserver)
    # the baseline by another process, as in real life (no connection of ours stays open)
    done = subprocess.run([sys.executable, "-m", "worker", "--once", "--config", str(config)],
                          capture_output=True, text=True, timeout=120, env=child_env())
    assert done.returncode == 0, done.stderr
    copy = backup(db_file, default_backup_path(db_file, label="backup", now=T0))
    db_file.write_bytes(b"")  # truncated by accident
    for leftover in (tmp_path / "mrt.sqlite3-wal", tmp_path / "mrt.sqlite3-shm"):
        leftover.unlink(missing_ok=True)

    code = worker_main(["--once", "--config", str(config)])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert f"the database file {db_file} is empty (0 bytes)" in err
    assert f"mrt db restore {copy}" in err and "delete the empty file" in err
    assert db_file.stat().st_size == 0  # nothing was created in it: no re-baseline
    assert [r.path for r, _ in httpserver.log].count(f"/repos/{REPO}/issues") == 1  # no poll

    code = mrt_main(["check", "--config", str(config)])
    out = capsys.readouterr().out
    assert code == 1, out
    assert any(line.startswith("error database") and "is empty (0 bytes)" in line
               and str(copy) in line for line in out.splitlines()), out

    db_file.unlink()  # the deliberate way to start afresh
    assert worker_main(["--once", "--config", str(config)]) == 0


def test_an_empty_database_without_backups_starts_afresh_with_a_warning(
    tmp_path: Path, httpserver: HTTPServer, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    FakeGitHub(httpserver, REPO, recorded_issues())
    db_file = tmp_path / "mrt.sqlite3"
    db_file.write_bytes(b"")
    config = write_config(tmp_path / "mrt.json", db_file, httpserver)

    assert mrt_main(["check", "--config", str(config)]) in (0, 2)
    out = capsys.readouterr().out
    assert any(line.startswith("warn  database") and "is empty (0 bytes)" in line
               for line in out.splitlines()), out

    caplog.set_level(logging.WARNING)
    rt = baselined(config)
    try:
        said = [r for r in caplog.records if "is empty (0 bytes)" in r.getMessage()]
        assert len(said) == 1 and said[0].levelno == logging.WARNING
        assert "records a baseline again" in said[0].getMessage()
        assert SourceState.get(SourceState.source_key == KEY).cursor is not None
    finally:
        rt.db.close()


def test_a_reload_naming_another_database_keeps_the_running_one_and_says_so(
    tmp_path: Path, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture,
) -> None:
    FakeGitHub(httpserver, REPO, recorded_issues())
    first, second = tmp_path / "first.sqlite3", tmp_path / "second.sqlite3"
    config = write_config(tmp_path / "mrt.json", first, httpserver)
    rt = baselined(config)
    try:
        write_config(config, second, httpserver)
        caplog.set_level(logging.INFO)
        reload(rt, lambda: T0)
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1, warnings
        assert str(second) in warnings[0] and str(first) in warnings[0]
        assert "needs a restart" in warnings[0]
        assert rt.config.state.sqlite_path == str(first)  # still what it runs on
        assert not second.exists()
        assert any("config reloaded" in r.getMessage() for r in caplog.records)
        assert SourceState.get(SourceState.source_key == KEY).cursor is not None
    finally:
        rt.db.close()

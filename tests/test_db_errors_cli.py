"""Issue 19, item 6: a locked or read-only database gives one clear line, never a traceback.

`mrt outbox retry --all-dead --yes`, `mrt sources poll KEY`, `mrt db backup` and the worker's
start (`ensure_states`), each through its real entry point (`mrt.cli.main`, `worker.main.main`):
which database file, what happened, what to do, and exit code 1 (README "Exit codes").
Another process holds the write lock past a short busy timeout; the read-only database sits on
a tmpfs remounted read-only (root) or is chmod 444 (anyone else).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from db_faults import (  # restore_logging: a fixture, used through pytestmark
    WriteLock,
    restore_logging,  # noqa: F401
    short_busy_timeout,
    small_filesystem,
)
from test_outbox_support import T0, enqueue_alerts
from test_source_support import recorded_issues

from mrt.cli import main as mrt_main
from mrt.delivery.base import Target
from mrt.store import sources, workers
from mrt.store.db import open_store
from mrt.store.models import Outbox
from worker.main import main as worker_main

pytestmark = pytest.mark.usefixtures("restore_logging")

KEY = "github:PyGithub/PyGithub"
TARGET = Target(channel="hook", key="json://127.0.0.1:9/hook", url="json://127.0.0.1:9/hook",
                kind="json")


def seed(directory: Path) -> Path:
    """A migrated database with a dead delivery, the source's state and a heartbeat, and a
    config file that names both."""
    db_file = directory / "mrt.sqlite3"
    db = open_store(db_file)
    try:
        (row,) = enqueue_alerts(T0, [TARGET])
        Outbox.update(status="dead").where(Outbox.id == row).execute()
        sources.ensure_states([(KEY, "github")], T0)
        workers.beat("w", hostname="h", pid=1, version="1", started_at=T0, now=T0)
    finally:
        db.close()
    config = {
        "version": 1,
        "state": {"sqlite_path": str(db_file), "busy_timeout_ms": 200},
        "sources": {"github": {"repos": ["PyGithub/PyGithub"], "base_url": "http://127.0.0.1:9/"}},
        "channels": {"hook": {"urls": ["json://127.0.0.1:9/hook"]}},
    }
    (directory / "mrt.json").write_text(json.dumps(config), encoding="utf-8")
    assert recorded_issues()  # the fixtures are there (the config's source is real)
    return db_file


COMMANDS = [
    ["outbox", "retry", "--all-dead", "--yes"],
    ["sources", "poll", KEY],
    ["db", "backup"],
]


def run_mrt(argv: list[str], config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = mrt_main([*argv, "--config", str(config)])
    return code, capsys.readouterr().err


def assert_one_clear_line(err: str, db_file: Path, *needles: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err and str(db_file) in lines[0], err
    assert any(n in lines[0] for n in needles), err


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_a_locked_database_is_one_clear_line_and_exit_1(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    short_busy_timeout(monkeypatch)
    db_file = seed(tmp_path)
    with WriteLock(db_file) as other:
        other.lock()
        code, err = run_mrt(argv, tmp_path / "mrt.json", capsys)
        other.unlock()
    assert code == 1, err
    assert_one_clear_line(err, db_file, "is locked by another process")
    assert "end it" in err


@pytest.fixture
def read_only_dir() -> Iterator[Path]:
    """A directory whose database cannot be written: a tmpfs remounted read-only as root,
    else plain permissions (which root would ignore)."""
    if os.geteuid() == 0:
        with small_filesystem("4m") as disk:
            yield disk
    else:
        import tempfile

        yield Path(tempfile.mkdtemp(prefix="mrt-ro-"))


def make_read_only(directory: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["mount", "-o", "remount,ro", str(directory)], check=True)
    else:
        for path in directory.iterdir():
            path.chmod(0o444)
        directory.chmod(0o555)


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_a_read_only_database_is_one_clear_line_and_exit_1(
    argv: list[str], read_only_dir: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    db_file = seed(read_only_dir)
    make_read_only(read_only_dir)
    code, err = run_mrt(argv, read_only_dir / "mrt.json", capsys)
    assert code == 1, err
    assert_one_clear_line(err, db_file, "is read-only")
    assert "writable" in err


def test_the_worker_on_a_read_only_database_says_so_and_exits_1(
    read_only_dir: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    db_file = seed(read_only_dir)
    make_read_only(read_only_dir)
    code = worker_main(["--once", "--config", str(read_only_dir / "mrt.json")])
    err = capsys.readouterr().err
    assert code == 1, err
    assert_one_clear_line(err, db_file, "is read-only", "I/O error")
    assert "writable" in err


def test_the_worker_on_a_locked_database_at_start_says_so_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    short_busy_timeout(monkeypatch)
    db_file = seed(tmp_path)
    with WriteLock(db_file) as other:
        other.lock()
        code = worker_main(["--once", "--config", str(tmp_path / "mrt.json")])
        other.unlock()
    err = capsys.readouterr().err
    assert code == 1, err
    assert_one_clear_line(err, db_file, "is locked by another process")


def test_the_worker_whose_writes_are_refused_after_opening_says_so_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """The issue's case: the file opens (reads work) but the first write, `ensure_states`,
    gets SQLITE_READONLY (as with a chmod 444 file for a non-root user). `query_only` on the
    worker's connections gives SQLite's real "attempt to write a readonly database"."""
    from mrt.store import db as store_db

    db_file = seed(tmp_path)
    monkeypatch.setitem(store_db.SQLITE_PRAGMAS, "query_only", 1)
    code = worker_main(["--once", "--config", str(tmp_path / "mrt.json")])
    err = capsys.readouterr().err
    assert code == 1, err
    assert_one_clear_line(err, db_file, "is read-only")
    assert "cannot start" in err and "attempt to write a readonly database" in err
    assert "writable" in err

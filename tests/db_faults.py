"""Real database faults for tests: another process holding SQLite's write lock, a small
filesystem that fills up, a read-only database, and a short busy timeout.

`WriteLock` is a second Python process that takes `BEGIN IMMEDIATE` on the file when told and
holds it until told to let go (the same as an `sqlite3` shell or a long `mrt` command would).
`small_filesystem` mounts a size-limited tmpfs (root only; skipped where the machine forbids it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from mrt.store import db as store_db

_LOCKER = r"""
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
for line in sys.stdin:
    word = line.strip()
    if word == "lock":
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE worker_heartbeat SET pid = pid")  # a writer, not only a lock
    elif word == "unlock":
        conn.execute("COMMIT")
    print(word + "ed" if word else "", flush=True)
"""


class WriteLock:
    """Another process that holds the database's write lock while `held`."""

    def __init__(self, db_file: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _LOCKER, str(db_file)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )

    def _say(self, word: str) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(word + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        assert answer == word + "ed", answer

    def lock(self) -> None:
        self._say("lock")

    def unlock(self) -> None:
        self._say("unlock")

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=10)

    def __enter__(self) -> WriteLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def short_busy_timeout(monkeypatch: pytest.MonkeyPatch, ms: int = 200) -> None:
    """The database's busy timeout for this process (its default is 10 s). The config's
    `state.busy_timeout_ms` says the same for a worker started from a config file."""
    monkeypatch.setitem(store_db.SQLITE_PRAGMAS, "busy_timeout", ms)
    for opener in (store_db.open_database, store_db.open_store):  # where it is a parameter
        defaults = opener.__kwdefaults__ or {}
        if "busy_timeout_ms" in defaults:
            monkeypatch.setitem(defaults, "busy_timeout_ms", ms)


@contextmanager
def small_filesystem(size: str = "1m") -> Iterator[Path]:
    """A size-limited tmpfs: a database on it meets a real "disk full" (SQLITE_FULL)."""
    mountpoint = Path(tempfile.mkdtemp(prefix="mrt-small-fs-"))
    if os.geteuid() != 0 or shutil.which("mount") is None:
        mountpoint.rmdir()
        pytest.skip("a size-limited tmpfs needs root (mount)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        mountpoint.rmdir()
        pytest.skip(f"this machine does not allow a tmpfs mount: {done.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)
        mountpoint.rmdir()


def fill(directory: Path, leave_bytes: int = 0) -> Path:
    """Fill the filesystem of `directory` up to `leave_bytes` of free space."""
    filler = directory / "filler"
    with filler.open("wb") as f:
        try:
            while True:
                free = shutil.disk_usage(directory).free
                if free <= leave_bytes:
                    break
                f.write(b"\0" * min(65536, free - leave_bytes))
                f.flush()
        except OSError:
            pass
    return filler


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """`worker.main.main` run in-process points the root logger at the (captured) stderr of
    that test; put the handlers back so later tests' threads do not write to a closed file."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)

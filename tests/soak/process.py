"""The worker under test: its config, the subprocess, SIGKILL, clean stop, RSS/fd samples.

The worker is the real `python -m worker --daemon --config FILE` (what `mrt-worker` runs).
Its interval cannot go below 10 s (the config's minimum), so the harness asks for polls the way
"poll now" does (the source's poll_requested_at, mrt.store.sources.request_poll) instead of
adding a test-only setting.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

KILL_WAIT_SECONDS = 15.0  # a SIGKILLed process is gone within milliseconds; bounded anyway


def worker_config(*, db_path: Path, github_url: str, repos: list[str],
                  sink_urls: list[str], busy_timeout_ms: int | None = None) -> dict[str, Any]:
    """A v1 config for the soak: fast retries, short leases, 1 s source timeout, and a small
    rate budget with a short fold bound, so that bursts fold (issue 13) under kills and faults."""
    state: dict[str, Any] = {"sqlite_path": str(db_path)}
    if busy_timeout_ms is not None:
        state["busy_timeout_ms"] = busy_timeout_ms
    return {
        "version": 1,
        "poll_interval_seconds": 10,
        "watch_keywords": ["llama"],
        "state": state,
        "sources": {"github": {"repos": repos, "base_url": github_url, "interval_seconds": 10,
                               "timeout_seconds": 1.0}},
        "channels": {"soak": {"urls": sink_urls, "rate": {"burst": 3, "per_minute": 60}}},
        "delivery": {
            "senders": 4, "max_attempts": 60, "backoff_base_seconds": 0.2,
            "backoff_max_seconds": 2.0, "lease_seconds": 5, "fold_after_seconds": 3,
            "send_timeout_seconds": 5.0, "shutdown_grace_seconds": 8.0,
        },
        # a faulty upstream may fail a source many polls in a row; the operators' "source is
        # failing" alert is no upstream event, so the oracle could not account for it
        "observability": {"log_format": "json", "log_level": "info", "failure_alert_after": 10_000},
    }


def write_config(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return path


def child_env() -> dict[str, str]:
    """No proxy may take a loopback request anywhere (Apprise uses requests, which reads them)."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the run started
    incarnation: int
    rss_kb: int
    fds: int


def sample_process(pid: int) -> tuple[int, int] | None:
    """(VmRSS in kB, open fds) from /proc, or None when the process is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]), fds
    return None


def integrity_check(db_path: Path) -> str:
    """PRAGMA integrity_check on a fresh connection; "ok" or SQLite's list of problems."""
    connection = sqlite3.connect(str(db_path), timeout=30)
    try:
        rows = connection.execute("PRAGMA integrity_check").fetchall()
    finally:
        connection.close()
    return "; ".join(str(r[0]) for r in rows)


# `python -m worker` with SQLite's busy timeout set first: the config's state.busy_timeout_ms
# says the same, for the store that reads it (a locked phase of seconds, not 10 s per try)
_WITH_BUSY_TIMEOUT = """
import sys
from mrt.store import db
db.SQLITE_PRAGMAS["busy_timeout"] = int(sys.argv[1])
from worker.main import run
sys.argv = ["mrt-worker", *sys.argv[2:]]
run()
"""


class WorkerProcess:
    """One incarnation of the worker; `kill()` is SIGKILL, `stop()` SIGTERM (graceful)."""

    def __init__(self, config_path: Path, log: IO[bytes], incarnation: int,
                 busy_timeout_ms: int | None = None) -> None:
        self.incarnation = incarnation
        self.started = time.monotonic()
        log.write(f"\n=== incarnation {incarnation} ===\n".encode())
        log.flush()
        command = [sys.executable, "-m", "worker"]
        if busy_timeout_ms is not None:
            command = [sys.executable, "-c", _WITH_BUSY_TIMEOUT, str(busy_timeout_ms)]
        self.proc = subprocess.Popen(
            [*command, "--daemon", "--config", str(config_path)],
            stdout=log, stderr=subprocess.STDOUT, env=child_env(), start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> int | None:
        """SIGKILL this process (by its own pid) and reap it; returns its exit code."""
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
        return self.proc.wait(timeout=KILL_WAIT_SECONDS)

    def stop(self, timeout: float) -> int | None:
        """SIGTERM and wait; a worker that does not stop in time is killed and that reported."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

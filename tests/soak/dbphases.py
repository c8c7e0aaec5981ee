"""The database phases of the soak: locked by another process, then a full disk.

    locked     another process holds SQLite's write lock (BEGIN IMMEDIATE) for `lock_seconds`,
               longer than the worker's busy timeout, while upstream changes go on
    disk full  the filesystem holding the database (a size-limited tmpfs mounted for the run;
               root only) is filled for `disk_full_seconds`, then the space is freed

During both the harness sends no poll requests (they would queue behind the lock or fail on the
full disk); the worker must stay alive throughout (the same incarnation before and after) and
deliver everything afterwards exactly once (judged with the rest of the run).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

from db_faults import WriteLock, fill


def mount_small_fs(directory: Path, size: str) -> str | None:
    """Mount a tmpfs of `size` at `directory`; None on success, else why it could not."""
    directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return "a size-limited tmpfs needs root"
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)],
                          capture_output=True, text=True)
    return None if done.returncode == 0 else f"mount refused: {done.stderr.strip()}"


def unmount(directory: Path) -> None:
    subprocess.run(["umount", "-l", str(directory)], check=False, capture_output=True)


def truncate_wal(db_path: Path) -> None:
    connection = sqlite3.connect(str(db_path), timeout=10)
    try:
        for _ in range(50):
            (busy, _, _) = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy:
                return
            time.sleep(0.1)  # a reader of the worker's is in the way: a moment later
    finally:
        connection.close()


def locked_phase(run: Any, seconds: float) -> dict[str, Any]:
    """Hold the write lock from another process for `seconds`; `run` is harness._Run."""
    incarnation = run.incarnation
    started = run.elapsed()
    run.quiet = True
    try:
        with WriteLock(run.db_path) as other:
            other.lock()
            run.wait(seconds)
            other.unlock()
    finally:
        run.quiet = False
    return {"phase": "locked", "seconds": round(run.elapsed() - started, 1),
            "alive": run.worker is not None and run.worker.alive()
            and run.incarnation == incarnation}


def disk_full_phase(run: Any, seconds: float) -> dict[str, Any]:
    """Fill the database's filesystem for `seconds`, then free it."""
    incarnation = run.incarnation
    started = run.elapsed()
    run.quiet = True
    filler = None
    try:
        # SQLite reuses its WAL file in place: with a big WAL a full disk would not be felt for
        # a long while. Checkpointed and truncated, the worker's next write has to grow it.
        truncate_wal(run.db_path)
        filler = fill(run.db_path.parent)
        free = shutil.disk_usage(run.db_path.parent).free
        run.wait(seconds)
    finally:
        if filler is not None:
            filler.unlink(missing_ok=True)
        run.quiet = False
    return {"phase": "disk_full", "seconds": round(run.elapsed() - started, 1),
            "free_bytes_while_full": free,
            "alive": run.worker is not None and run.worker.alive()
            and run.incarnation == incarnation}

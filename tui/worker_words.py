"""What the console says about the worker, true to how it runs (its heartbeat's mode)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.app import MrtConsole


def worker_text(app: MrtConsole) -> str:
    """The header's word on the worker: a cron `--once` run is a last run, not a heartbeat."""
    if app.status is not None and app.status.worker_mode == "once":
        return f"last run {app.heartbeat_age()} (--once)"
    return f"worker {app.heartbeat_age()}"


def worker_down_text(app: MrtConsole) -> str:
    """Why no worker runs and how to start one, for the way this one was run."""
    status = app.status
    if status is None or status.heartbeat_at is None:
        return "No worker has run on this database: start mrt-worker"
    down = f"Worker down: last heartbeat {app.heartbeat_age()}"
    if status.worker_mode == "service":
        return (
            f"{down} (systemctl --user start mrt-worker; "
            "journalctl --user -u mrt-worker says why it stopped)"
        )
    if status.worker_mode == "daemon":
        return f"{down}: start it with mrt-worker (`mrt service install` makes it a service)"
    return f"{down} (start mrt-worker, or systemctl --user start mrt-worker)"

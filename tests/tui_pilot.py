"""Helpers for the console's Pilot tests (imported, not collected)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.worker import WorkerCancelled
from tui_seed import NOW

from tui.app import MrtConsole, make_app


def console(db_path: Path | str, **kwargs: Any) -> MrtConsole:
    """The console on `db_path`, with time frozen at NOW and slow live polls (tests drive them).

    A loaded machine must not change what the screen shows: the "database is slow" banner is
    off unless a test asks for it.
    """
    kwargs.setdefault("poll_seconds", 3600)
    kwargs.setdefault("status_seconds", 3600)
    kwargs.setdefault("slow_seconds", 3600)
    return make_app(db_path, clock=lambda: NOW, **kwargs)


async def settle(pilot: Pilot[Any], rounds: int = 3) -> None:
    """Let workers answer and their messages be handled (handlers may start more workers).

    At least `rounds` rounds, then on until no worker is running, however slow the machine.
    """
    for done in range(200):
        await pilot.pause()
        # An exclusive worker (a detail load) replaced by a newer one while we waited is the
        # console working as meant: the next round waits for the newer one.
        with contextlib.suppress(WorkerCancelled):
            await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if done + 1 >= rounds and not any(w.is_running for w in pilot.app.workers):
            break

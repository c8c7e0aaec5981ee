"""Helpers for the console's Pilot tests (imported, not collected)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from tui_seed import NOW

from tui.app import MrtConsole, make_app


def console(db_path: Path | str, **kwargs: Any) -> MrtConsole:
    """The console on `db_path`, with time frozen at NOW and slow live polls (tests drive them)."""
    kwargs.setdefault("poll_seconds", 3600)
    kwargs.setdefault("status_seconds", 3600)
    return make_app(db_path, clock=lambda: NOW, **kwargs)


async def settle(pilot: Pilot[Any], rounds: int = 3) -> None:
    """Let workers answer and their messages be handled (handlers may start more workers)."""
    for _ in range(rounds):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()

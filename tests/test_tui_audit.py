"""The console's Audit screen: newest first, details, filter, inert text, and live under a
concurrent writer with the selection anywhere in the list."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import peewee
import pytest
from textual.widgets import Static
from tui_pilot import console, settle
from tui_seed import NOW

from mrt.ops import silences as silence_ops
from mrt.ops import sources as source_ops
from mrt.store.models import AuditLog, SourceState
from tui.screens.audit import AuditScreen

pytestmark = pytest.mark.anyio
WRITER = Path(__file__).parent / "live_audit_writer.py"
POLL_SECONDS = 0.5
WINDOW = POLL_SECONDS + 1.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def seed_actions() -> None:
    silence_ops.create({"keywords": "deepseek"}, expires_at=NOW + timedelta(hours=2),
                       now=NOW - timedelta(minutes=30), actor="cli", reason="release week")
    SourceState.create(source_key="github:vllm-project/vllm", source="github", updated_at=NOW)
    source_ops.poll_now("github:vllm-project/vllm", now=NOW - timedelta(minutes=20), actor="tui")
    silence_ops.expire(1, now=NOW - timedelta(minutes=10), actor="tui",
                       reason="\x1b[2Jdone\u202e early")


def detail_text(screen: AuditScreen) -> str:
    return str(screen.query_one("#audit-table-detail", Static).render())


async def test_actions_newest_first_with_params_and_result(
    db: peewee.Database, db_path: Path
) -> None:
    seed_actions()
    db.close()
    app = console(db_path, initial_mode="audit")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AuditScreen)
        table = screen.table
        shown = [table.rows_by_id[i].action for i in table.ids]
        assert shown == ["silence.expire", "source.poll", "silence.create"]
        text = detail_text(screen)
        assert "silence.expire by tui" in text and "silence #1" in text
        assert "\x1b" not in text and "\u202e" not in text and "done" in text
        await pilot.press("down", "down")
        text = detail_text(screen)
        assert '"matcher": {"keywords": "deepseek"}' in text and 'result: {"id": 1}' in text
        assert "reason: release week" in text

        await pilot.press("slash")
        await pilot.press(*"actor:tui", "enter")
        await settle(pilot)
        assert [table.rows_by_id[i].actor for i in table.ids] == ["tui", "tui"]
        await pilot.press("slash")
        await pilot.press("ctrl+u", *"actor:robot", "enter")
        await settle(pilot)
        assert any("actor:robot is not one of cli, tui, worker" in str(n.message)
                   for n in app._notifications)
        await pilot.press("escape")
        await settle(pilot)
        assert len(table.ids) == 3


async def test_older_pages_are_read_as_the_cursor_goes_down(
    db: peewee.Database, db_path: Path
) -> None:
    AuditLog.insert_many(
        [{"at": NOW - timedelta(seconds=i), "actor": "cli", "action": "outbox.retry",
          "params": {"ids": [i]}, "result": {"count": 1}} for i in range(250)]
    ).execute()
    db.close()
    app = console(db_path, initial_mode="audit", page_size=50)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#audit-table")
        assert table.row_count < 250  # a page (and the one read ahead), not the table
        first = table.row_count
        for _ in range(30):
            await pilot.press("pagedown")
            await settle(pilot)
        assert table.row_count == 250 > first  # read page by page as the cursor went down
        assert table.ids == list(range(250, 0, -1))  # newest first, no gap, no repeat


async def test_new_actions_appear_live_wherever_the_selection_is(
    db: peewee.Database, db_path: Path, tmp_path: Path
) -> None:
    AuditLog.insert_many(
        [{"at": NOW - timedelta(minutes=i), "actor": "cli", "action": "outbox.retry",
          "params": {"ids": [i]}, "result": {"count": 1}} for i in range(40)]
    ).execute()
    db.close()
    log = tmp_path / "writer.jsonl"
    app = console(db_path, initial_mode="audit", poll_seconds=POLL_SECONDS)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table: Any = app.screen.query_one("#audit-table")
        await pilot.press(*["down"] * 8)  # the operator reads the middle of the list
        reading = table.highlighted_id()
        writer = subprocess.Popen([sys.executable, str(WRITER), str(db_path), str(log), "4"])
        checks = 0
        try:
            deadline = time.monotonic() + 4.5
            while time.monotonic() < deadline:
                await pilot.pause(0.7)
                seen_at = time.time()
                lines = log.read_text().splitlines() if log.exists() else []
                due = [json.loads(x)["id"] for x in lines if json.loads(x)["t"] <= seen_at - WINDOW]
                missing = [i for i in due if i not in table.rows_by_id]
                assert not missing, f"audit rows committed {WINDOW}s ago not shown: {missing}"
                assert table.highlighted_id() == reading  # the selection stays on its row
                checks += 1
        finally:
            writer.wait(timeout=30)
        assert writer.returncode == 0
        await pilot.pause(WINDOW)
        await settle(pilot)
        written = [json.loads(x)["id"] for x in log.read_text().splitlines()]
        assert len(written) > 10 and checks >= 5
        assert set(written) <= set(table.rows_by_id)
        assert table.ids == sorted(table.ids, reverse=True)

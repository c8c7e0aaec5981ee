"""The console's Silences screen: list (state, muted count), add through the dialog, expire with
a confirm, read-only refusals; every write checked in the database, audit row included."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import peewee
import pytest
from textual.widgets import Input, Static
from tui_pilot import console, settle
from tui_seed import NOW, add_alert
from tui_views_seed import views_scene

from mrt.store.models import AuditLog, Event, Silence
from tui.screens.add_silence import AddSilenceScreen
from tui.screens.silences import SilencesScreen

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def scene() -> None:
    views_scene()  # silence #1 ended (tui), #2 active (cli, modelscope)
    add_alert("Qwen3 weights")
    Event.update(silence=2, decision="silenced").execute()


async def open_silences(pilot: Any) -> SilencesScreen:
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, SilencesScreen)
    return screen


async def type_into(pilot: Any, field: str, text: str) -> None:
    widget = pilot.app.screen.query_one(f"#silence-{field}", Input)
    widget.focus()
    widget.value = ""
    await pilot.press(*text)


async def test_list_shows_active_first_with_what_each_muted(
    db: peewee.Database, db_path: Path
) -> None:
    scene()
    db.close()
    async with console(db_path, initial_mode="silences").run_test(size=(120, 40)) as pilot:
        screen = await open_silences(pilot)
        rows = [screen.table.rows_by_id[i] for i in screen.table.ids]
        assert [(r.id, r.active, r.suppressed) for r in rows] == [(2, True, 1), (1, False, 0)]
        detail = str(screen.query_one("#silence-detail", Static).render())
        assert "keywords=qwen,deepseek source_key=modelscope:*" in detail
        assert "muted 1 event(s)" in detail and "reason: ModelScope mirror re-sync" in detail


async def test_add_writes_the_silence_and_its_audit_row(
    db: peewee.Database, db_path: Path
) -> None:
    scene()
    db.close()
    async with console(db_path, initial_mode="silences").run_test(size=(120, 40)) as pilot:
        screen = await open_silences(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(pilot.app.screen, AddSilenceScreen)
        await type_into(pilot, "matcher", 'source_key=github:vllm-project/* keywords="deep seek"')
        await type_into(pilot, "expires", "2h")
        await type_into(pilot, "reason", "noisy release")
        await pilot.press("enter")
        await settle(pilot)
        assert pilot.app.screen is screen
        assert [r.id for r in screen.table.rows_by_id.values() if r.active] == [3, 2]
    db.connect(reuse_if_open=True)
    row = Silence.get_by_id(3)
    assert row.matcher == {"source_key": "github:vllm-project/*", "keywords": "deep seek"}
    assert (row.created_by, row.reason) == ("tui", "noisy release")
    assert (row.created_at, row.expires_at) == (NOW, NOW + timedelta(hours=2))
    audit = AuditLog.select().order_by(AuditLog.id.desc()).get()
    assert (audit.actor, audit.action, audit.reason) == ("tui", "silence.create", "noisy release")
    assert audit.params["silence"] == 3 and audit.params["matcher"] == row.matcher


@pytest.mark.parametrize(
    ("matcher", "expires", "error"),
    [
        ("colour=red", "2h", "matcher: unknown matcher key 'colour'"),
        ("", "2h", "matcher: give at least one KEY=VALUE"),
        ("regex=(unclosed", "2h", "matcher:"),
        ("keywords=qwen", "soon", "expires: expected a duration such as 90m, 2h"),
        ("keywords=qwen", "2020-01-01", "expires: 2020-01-01T00:00:00+00:00 is not after now"),
        ("keywords=qwen", "", "expires: give a duration"),
    ],
)
async def test_a_bad_field_keeps_the_dialog_open_and_says_why(
    db: peewee.Database, db_path: Path, matcher: str, expires: str, error: str
) -> None:
    scene()
    db.close()
    async with console(db_path, initial_mode="silences").run_test(size=(120, 40)) as pilot:
        await open_silences(pilot)
        await pilot.press("a")
        await settle(pilot)
        await type_into(pilot, "matcher", matcher)
        await type_into(pilot, "expires", expires)
        await pilot.press("enter")
        await settle(pilot)
        dialog = pilot.app.screen
        assert isinstance(dialog, AddSilenceScreen)
        assert error in str(dialog.query_one("#silence-error", Static).render())
    db.connect(reuse_if_open=True)
    assert Silence.select().count() == 2
    assert not AuditLog.select().where(AuditLog.id > 4).exists()


async def test_expire_asks_then_ends_the_silence_now(db: peewee.Database, db_path: Path) -> None:
    scene()
    db.close()
    async with console(db_path, initial_mode="silences").run_test(size=(120, 40)) as pilot:
        screen = await open_silences(pilot)
        assert screen.table.highlighted_id() == 2
        await pilot.press("x")
        await settle(pilot)
        await pilot.press(*"maintenance over", "enter")
        await settle(pilot)
        assert [r.active for r in screen.table.rows_by_id.values()] == [False, False]
        await pilot.press("x")  # an ended one: said, not done
        await settle(pilot)
        assert any("already ended" in str(n.message) for n in pilot.app._notifications)
    db.connect(reuse_if_open=True)
    assert Silence.get_by_id(2).expired_early_at == NOW
    audit = AuditLog.select().order_by(AuditLog.id.desc()).get()
    assert (audit.actor, audit.action, audit.params, audit.reason) == (
        "tui", "silence.expire", {"silence": 2}, "maintenance over")


async def test_read_only_refuses_add_and_expire_and_says_why(
    db: peewee.Database, db_path: Path
) -> None:
    scene()
    db.close()
    async with console(db_path, read_only=True, initial_mode="silences").run_test(size=(120, 40)) as pilot:
        screen = await open_silences(pilot)
        line = str(screen.query_one("#silence-line", Static).render())
        assert "read-only console" in line
        disabled = {b.binding.action for b in screen.active_bindings.values() if not b.enabled}
        assert {"add", "expire"} <= disabled
        for key in ("a", "x"):
            await pilot.press(key)
            await settle(pilot)
            assert pilot.app.screen is screen
        messages = [str(n.message) for n in pilot.app._notifications]
        assert any(m.startswith("Cannot add a silence: read-only") for m in messages)
        assert any(m.startswith("Cannot expire a silence: read-only") for m in messages)
    db.connect(reuse_if_open=True)
    assert Silence.get_by_id(2).expired_early_at is None and Silence.select().count() == 2

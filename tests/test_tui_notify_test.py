"""Deliveries' `n` (issue 16): a test message to one channel from the console, through the real
path (mrt.ops.notify, actor "tui") against loopback robots, asserted on the database and on what
the screen shows, the far side's own words included."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from pathlib import Path

import peewee
import pytest
from pytest_httpserver import HTTPServer
from textual.pilot import Pilot
from textual.widgets import OptionList
from tui_pilot import console, settle
from tui_seed import console_scene
from vendor_support import SECRET, TOKEN, install, loopback_url
from werkzeug import Request, Response

from mrt.config import load_config
from mrt.store.models import Alert, AuditLog, DeliveryAttempt, Outbox
from tui.app import Settings
from tui.main import build_parser, config_settings
from tui.screens.confirm import ConfirmScreen
from tui.screens.deliveries import DeliveriesScreen
from tui.screens.notify_test import ChannelPickScreen
from tui.widgets.outbox_table import OutboxTable

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def robot_config(tmp_path: Path, server: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two chat channels (a JSON hook, a DingTalk robot, signed) and the terminal."""
    monkeypatch.setenv("ROBOT_TOKEN", TOKEN)
    monkeypatch.setenv("ROBOT_SECRET", SECRET)
    ding = loopback_url(server, "dingtalk").replace(TOKEN, "${ROBOT_TOKEN}")
    ding = ding.replace(SECRET, "${ROBOT_SECRET}")
    path = tmp_path / "config.toml"
    path.write_text("\n".join([
        "version = 1",
        "[sources.github]",
        'repos = ["sgl-project/sglang"]',
        "[channels.hook]",
        f'urls = ["json://127.0.0.1:{server.port}/hook"]',
        "[channels.ding]",
        'type = "dingtalk"',
        f"urls = [{json.dumps(ding)}]",
        "[channels.console]",
        'type = "console"',
    ]) + "\n", encoding="utf-8")
    return path


def started_with(*argv: str) -> Callable[[], Settings]:
    """What `mrt-tui --db ...` gives the console: the config read when a screen first needs it."""
    return partial(config_settings, build_parser().parse_args(list(argv)))


async def send_from_deliveries(pilot: Pilot[None], index: int) -> DeliveriesScreen:
    """Deliveries, `n`, the channel at `index` in the list, confirm."""
    await settle(pilot)
    await pilot.press("2")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, DeliveriesScreen)
    await pilot.press("n")
    await settle(pilot)
    picker = pilot.app.screen
    assert isinstance(picker, ChannelPickScreen) and picker.channels == ["hook", "ding"]
    picker.query_one(OptionList).highlighted = index
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(pilot.app.screen, ConfirmScreen)
    assert "[MRT TEST]" in str(pilot.app.screen.body)
    await pilot.press("enter")
    await settle(pilot)
    assert pilot.app.screen is screen
    return screen


def toasts(pilot: Pilot[None]) -> str:
    return "\n".join(str(n.message) for n in pilot.app._notifications)


async def test_a_test_message_goes_through_the_outbox_and_shows_the_answer(
    db: peewee.Database, db_path: Path, tmp_path: Path, httpserver: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    console_scene()
    hooked: list[str] = []

    def hook(request: Request) -> Response:
        hooked.append(request.get_data(as_text=True))
        return Response("{}", content_type="application/json")

    httpserver.expect_request("/hook", method="POST").respond_with_handler(hook)
    config = robot_config(tmp_path, httpserver, monkeypatch)
    app = console(db_path, read_config=started_with("--db", str(db_path), "--config", str(config)))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await send_from_deliveries(pilot, 0)
        row = Outbox.get(Outbox.channel == "hook")
        assert row.status == "sent"
        assert row.id in screen.query_one(OutboxTable).ids  # the new row is listed
        shown = toasts(pilot)
        assert "Test of hook: 1 sent, 0 failed" in shown and f"outbox #{row.id}" in shown
    assert len(hooked) == 1 and "[MRT TEST]" in hooked[0]
    alert = Alert.get_by_id(row.alert_id)
    assert alert.kind == "test"
    assert [a.outcome for a in DeliveryAttempt.select().where(DeliveryAttempt.outbox == row.id)] \
        == ["sent"]
    audit = AuditLog.get(AuditLog.action == "notify.test")
    assert audit.actor == "tui" and audit.params == {"channels": ["hook"]}


async def test_a_refusing_robot_is_shown_in_its_own_words_and_the_row_is_dead(
    db: peewee.Database, db_path: Path, tmp_path: Path, httpserver: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    console_scene()
    ding = install(httpserver, "dingtalk")
    ding.script.append((200, {"errcode": 310000, "errmsg": "keywords not in content"}, {}))
    app = console(db_path, config=load_config(robot_config(tmp_path, httpserver, monkeypatch)))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await send_from_deliveries(pilot, 1)
        row = Outbox.get(Outbox.channel == "ding")
        assert row.status == "dead"
        assert row.id in screen.query_one(OutboxTable).ids
        shown = toasts(pilot)
        assert "Test of ding: 0 sent, 1 failed" in shown
        assert "keywords not in content" in shown and "310000" in shown
        assert TOKEN not in shown and SECRET not in shown
        assert any(n.severity == "error" for n in pilot.app._notifications)
    assert ding.problems == [] and len(ding.calls) == 1
    attempt = DeliveryAttempt.get(DeliveryAttempt.outbox == row.id)
    assert "keywords not in content" in (attempt.message or "")
    assert AuditLog.get(AuditLog.action == "notify.test").actor == "tui"


async def test_without_a_config_the_action_says_so_and_sends_nothing(
    db: peewee.Database, db_path: Path
) -> None:
    console_scene()
    before = Outbox.select().count()
    app = console(db_path, config=None, config_error="the config did not load: no config file")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("2", "n")
        await settle(pilot)
        assert isinstance(pilot.app.screen, DeliveriesScreen)
        shown = toasts(pilot)
        assert "the config did not load: no config file" in shown and "--config" in shown
    assert Outbox.select().count() == before


async def test_db_alone_runs_with_the_built_in_config_and_says_to_give_one(
    db: peewee.Database, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`mrt-tui --db FILE` and no config file: the built-in config's only channel is the
    terminal, which the console does not test (it draws there)."""
    monkeypatch.delenv("MRT_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config-here"))
    console_scene()
    before = Outbox.select().count()
    app = console(db_path, read_config=started_with("--db", str(db_path)))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("2", "n")
        await settle(pilot)
        assert isinstance(pilot.app.screen, DeliveriesScreen)
        shown = toasts(pilot)
        assert "no chat or mail channel (console writes to the terminal" in shown
        assert "--config FILE" in shown
    assert Outbox.select().count() == before


async def test_read_only_refuses_with_a_reason(
    db: peewee.Database, db_path: Path, tmp_path: Path, httpserver: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    console_scene()
    before = Outbox.select().count()
    config = load_config(robot_config(tmp_path, httpserver, monkeypatch))
    app = console(db_path, config=config, read_only=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("2", "n")
        await settle(pilot)
        assert isinstance(pilot.app.screen, DeliveriesScreen)
        assert "Test a channel (n) is disabled: the console is read-only" in toasts(pilot)
    assert Outbox.select().count() == before
    assert not AuditLog.select().where(AuditLog.action == "notify.test").exists()

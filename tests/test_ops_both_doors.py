"""One service layer: for every operator action, `mrt` and the console call the same mrt.ops
function, and the audit log records the same action name from both doors.

Each case wraps the mrt.ops function with a recorder that still calls the real one, drives the
console with Pilot (actor "tui"), then the CLI through `mrt.cli.main` (actor "cli"), and reads
the audit log of the real SQLite file.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import peewee
import pytest
from textual.pilot import Pilot
from textual.widgets import Input
from tui_pilot import console, settle
from tui_seed import NOW, SOURCES, console_scene

from mrt.cli import main
from mrt.ops import alerts as alert_ops
from mrt.ops import cursor as cursor_ops
from mrt.ops import outbox as outbox_ops
from mrt.ops import sources as source_ops
from mrt.store import alerts as store_alerts
from mrt.store.models import Alert, AuditLog, Outbox, SourceState, database_proxy

pytestmark = pytest.mark.anyio

CONFIG = """
version = 1
[state]
sqlite_path = "{db}"
[sources.github]
repos = ["vllm-project/vllm"]
[sources.huggingface]
orgs = ["deepseek-ai"]
[sources.modelscope]
orgs = ["qwen"]
"""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def dead_ids() -> list[int]:
    return [r.id for r in Outbox.select().where(Outbox.status == "dead").order_by(Outbox.id.desc())]


async def on_screen(pilot: Pilot[Any], key: str) -> None:
    await settle(pilot)
    await pilot.press(key)
    await settle(pilot)


async def console_retry(pilot: Pilot[Any]) -> None:
    await on_screen(pilot, "2")
    await pilot.press("t")  # the highlighted (newest dead) row
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)


async def console_discard(pilot: Pilot[Any]) -> None:
    await on_screen(pilot, "2")
    await pilot.press("x")
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)


async def console_poll(pilot: Pilot[Any]) -> None:
    await on_screen(pilot, "3")
    await pilot.press("down", "n")  # SOURCES[1]
    await settle(pilot)


async def console_reset(pilot: Pilot[Any]) -> None:
    await on_screen(pilot, "3")
    await pilot.press("c")  # SOURCES[0]
    await settle(pilot)
    pilot.app.screen.query_one("#reset-to", Input).value = "baseline"
    await pilot.pause()
    await pilot.press("enter", "enter")
    await settle(pilot)


async def console_ack(pilot: Pilot[Any]) -> None:
    await settle(pilot)
    await pilot.press("a")  # the newest alert
    await settle(pilot)


async def console_unack(pilot: Pilot[Any]) -> None:
    newest_two = [a.id for a in Alert.select().order_by(Alert.id.desc()).limit(2)]
    store_alerts.acknowledge(newest_two, by="someone", now=NOW)  # no door: no audit record
    await settle(pilot)
    await pilot.press("u")  # the newest alert
    await settle(pilot)


def cli_unack(db_path: Path, config: Path) -> list[str]:
    second = Alert.select().order_by(Alert.id.desc()).limit(2)[1].id
    return ["alerts", "unack", str(second), "--db", str(db_path)]


def cli_retry(db_path: Path, config: Path) -> list[str]:
    return ["outbox", "retry", str(dead_ids()[0]), "--db", str(db_path)]


def cli_discard(db_path: Path, config: Path) -> list[str]:
    return ["outbox", "discard", str(dead_ids()[0]), "--yes", "--db", str(db_path)]


def cli_poll(db_path: Path, config: Path) -> list[str]:
    return ["sources", "poll", SOURCES[2], "--config", str(config)]


def cli_reset(db_path: Path, config: Path) -> list[str]:
    return ["cursor", "reset", SOURCES[1], "--to", "2026-11-01", "--yes", "--db", str(db_path),
            "--backup-dir", str(db_path.parent / "bk")]


def cli_ack(db_path: Path, config: Path) -> list[str]:
    oldest = Alert.select().order_by(Alert.id).first().id
    return ["alerts", "ack", str(oldest), "--yes", "--db", str(db_path)]


def cursor_of(key: str) -> list[str | None]:
    cursor = SourceState.get_by_id(key).cursor
    return [None if cursor is None else cursor.get("reset_to")]


@dataclass(frozen=True)
class Case:
    module: ModuleType
    function: str
    audit_action: str
    console: Callable[[Pilot[Any]], Awaitable[None]]
    cli: Callable[[Path, Path], list[str]]
    done: Callable[[], int]  # how many rows the two doors changed, read from the database


CASES = {
    "outbox retry": Case(outbox_ops, "retry", "outbox.retry", console_retry, cli_retry,
                         lambda: 3 - len(dead_ids())),
    "outbox discard": Case(outbox_ops, "discard", "outbox.discard", console_discard, cli_discard,
                           lambda: Outbox.select().where(Outbox.status == "discarded").count()),
    "source poll now": Case(source_ops, "poll_now", "source.poll", console_poll, cli_poll,
                            lambda: SourceState.select().where(
                                SourceState.poll_requested_at.is_null(False)).count()),
    "cursor reset": Case(cursor_ops, "reset_cursor", "cursor.reset", console_reset, cli_reset,
                         lambda: cursor_of(SOURCES[0]).count(None)
                         + cursor_of(SOURCES[1]).count("2026-11-01T00:00:00Z")),
    "alert acknowledge": Case(alert_ops, "acknowledge", "alert.acknowledge", console_ack, cli_ack,
                              lambda: Alert.select().where(
                                  Alert.acknowledged_at.is_null(False)).count()),
    "alert unacknowledge": Case(alert_ops, "unacknowledge", "alert.unacknowledge", console_unack,
                                cli_unack, lambda: 2 - Alert.select().where(
                                    Alert.acknowledged_at.is_null(False)).count()),
}


@pytest.mark.parametrize("name", list(CASES))
async def test_cli_and_console_call_the_same_ops_function_and_audit_one_name(
    name: str, db: peewee.Database, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = CASES[name]
    console_scene()
    config = tmp_path / "mrt.toml"
    config.write_text(CONFIG.format(db=db_path), encoding="utf-8")
    real = getattr(case.module, case.function)
    calls: list[str] = []

    def recording(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["actor"])
        return real(*args, **kwargs)

    monkeypatch.setattr(case.module, case.function, recording)

    app = console(db_path, backup_dir=tmp_path / "bk")
    async with app.run_test(size=(120, 40)) as pilot:
        await case.console(pilot)
    assert calls == ["tui"], f"the console's {name} did not go through mrt.ops"

    database_proxy.initialize(db)
    argv = case.cli(db_path, config)
    code = main(argv)
    database_proxy.initialize(db)  # the command bound (and closed) a connection of its own
    assert code == 0, argv
    assert calls == ["tui", "cli"], f"`mrt {' '.join(argv[:2])}` did not go through mrt.ops"

    assert case.done() == 2  # each door really changed one row
    actions = {(a.actor, a.action) for a in AuditLog.select()}
    assert actions == {("tui", case.audit_action), ("cli", case.audit_action)}


REPLAY_CONFIG = """
version = 1
[state]
sqlite_path = "{db}"
[channels.hook]
urls = ["json://127.0.0.1:9/hook"]
[[rules]]
name = "deepseek"
when = {{ keywords = ["deepseek"] }}
notify = {{ channels = ["hook"] }}
"""


async def test_replay_from_both_doors_is_one_ops_call_and_one_audit_name(
    db: peewee.Database, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mrt.config import load_config
    from mrt.ops import replay as replay_ops

    console_scene()
    config_file = tmp_path / "mrt.toml"
    config_file.write_text(REPLAY_CONFIG.format(db=db_path), encoding="utf-8")
    real = replay_ops.apply
    calls: list[str] = []

    def recording(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["actor"])
        return real(*args, **kwargs)

    monkeypatch.setattr(replay_ops, "apply", recording)
    app = console(db_path, config=load_config(config_file))
    async with app.run_test(size=(120, 40)) as pilot:
        await on_screen(pilot, "5")
        pilot.app.screen.query_one("#replay-since", Input).value = "30d"
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        modal = pilot.app.screen
        if getattr(modal, "risk", None) == "high":
            modal.query_one("#confirm-count", Input).value = str(modal.count)  # type: ignore[attr-defined]
            await pilot.press("enter")
        await pilot.press("enter")
        await settle(pilot)
    assert calls == ["tui"]
    told = Alert.select().where(Alert.kind == "replay").count()
    assert told > 0

    database_proxy.initialize(db)
    code = main(["replay", "--since", "30d", "--resend", "--yes", "--config", str(config_file)])
    database_proxy.initialize(db)
    assert code == 0 and calls == ["tui", "cli"]
    assert Alert.select().where(Alert.kind == "replay").count() == 2 * told
    assert {(a.actor, a.action) for a in AuditLog.select()} == {("tui", "replay"), ("cli", "replay")}

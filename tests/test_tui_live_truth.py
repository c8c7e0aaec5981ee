"""The live-truth test: a writer process changes outbox and alert rows while the console shows
Alerts, then Deliveries, with the selection in the middle of the list. Again and again the rows
on screen are compared with what the database held: none may be older than the refresh
interval plus one second. The CI variant runs ~10 s; the 60 s one of issue 17 is `slow`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import peewee
import pytest
from tui_pilot import settle
from tui_seed import NOW, console_scene

from mrt.store.models import Alert, Outbox
from tui.app import make_app
from tui.screens.alerts import AlertsScreen
from tui.screens.deliveries import DeliveriesScreen
from tui.widgets.alert_table import AlertTable
from tui.widgets.outbox_table import OutboxTable

pytestmark = pytest.mark.anyio
POLL_SECONDS = 0.5
WINDOW = POLL_SECONDS + 1.0  # the refresh interval plus one second
WRITER = Path(__file__).parent / "live_writer.py"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Truth:
    """What the database held over time: the writer's log over the values seeded."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.history: dict[tuple[str, int], list[tuple[float, Any]]] = defaultdict(list)
        for row in Outbox.select():
            self.history[("outbox", row.id)].append((0.0, row.status))
        for alert in Alert.select():
            self.history[("ack", alert.id)].append((0.0, alert.acknowledged_at is not None))
        self.read_lines = 0

    def catch_up(self) -> None:
        lines = self.log.read_text(encoding="utf-8").splitlines() if self.log.exists() else []
        for line in lines[self.read_lines:]:
            change = json.loads(line)
            self.history[(change["kind"], change["id"])].append((change["t"], change["value"]))
        self.read_lines = len(lines)

    def fresh(self, key: tuple[str, int], value: Any, seen_at: float) -> bool:
        """`value` was the database's within WINDOW before `seen_at` (or is newer)."""
        history = self.history[key]
        before = [v for at, v in history if at <= seen_at - WINDOW]
        recent = {v for at, v in history if at > seen_at - WINDOW}
        return value in recent or (bool(before) and value == before[-1])


def stale_alert_rows(table: AlertTable, truth: Truth, welink_of: dict[int, int],
                     seen_at: float) -> list[str]:
    bad = []
    for alert_id in table.on_screen_ids():
        row = table.alert_rows[alert_id]
        counts = Counter(row.deliveries)
        counts["sent"] -= 1  # the email row, which the writer leaves sent
        [status] = [s for s, n in counts.items() if n > 0]
        if not truth.fresh(("outbox", welink_of[alert_id]), status, seen_at):
            bad.append(f"alert #{alert_id} shows its welink delivery {status}")
        if not truth.fresh(("ack", alert_id), row.acknowledged, seen_at):
            bad.append(f"alert #{alert_id} shows acknowledged={row.acknowledged}")
    return bad


def stale_outbox_rows(table: OutboxTable, truth: Truth, seen_at: float) -> list[str]:
    return [
        f"delivery #{i} shows {table.rows_by_id[i].status}"
        for i in table.on_screen_ids()
        if not truth.fresh(("outbox", i), table.rows_by_id[i].status, seen_at)
    ]


async def watch(pilot: Any, check: Any, truth: Truth, seconds: float) -> int:
    """Compare the screen with the database every ~0.7 s for `seconds`; how many checks ran."""
    deadline, checks = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        await pilot.pause(0.7)
        seen_at = time.time()
        truth.catch_up()  # every change logged before the screen was read
        bad = check(seen_at)
        assert not bad, bad
        checks += 1
    return checks


@pytest.mark.parametrize("seconds", [10, pytest.param(60, marks=pytest.mark.slow)])
async def test_no_row_on_screen_is_older_than_the_refresh_interval(
    db: peewee.Database, db_path: Path, tmp_path: Path, seconds: int
) -> None:
    console_scene()
    welink_of = {int(r.alert_id): int(r.id) for r in Outbox.select().where(Outbox.channel == "welink")}
    log = tmp_path / "writer.jsonl"
    truth = Truth(log)
    app = make_app(db_path, clock=lambda: NOW, poll_seconds=POLL_SECONDS,
                   status_seconds=3600, slow_seconds=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, AlertsScreen)
        alerts = app.screen.query_one(AlertTable)
        await pilot.press(*["down"] * 6)  # the operator reads the middle of the list
        writer = subprocess.Popen(
            [sys.executable, str(WRITER), str(db_path), str(log), str(seconds), "7"]
        )
        try:
            checks = await watch(
                pilot,
                lambda at: stale_alert_rows(alerts, truth, welink_of, at),
                truth,
                seconds / 2,
            )
            assert alerts.cursor_row == 6
            await pilot.press("2")
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, DeliveriesScreen)
            outbox = screen.query_one(OutboxTable)
            outbox.move_cursor(row=outbox.row_count // 2)
            checks += await watch(
                pilot, lambda at: stale_outbox_rows(outbox, truth, at), truth, seconds / 2
            )
        finally:
            writer.wait(timeout=seconds + 30)
    assert writer.returncode == 0
    truth.catch_up()
    assert truth.read_lines > seconds * 3  # the writer really wrote all along
    assert checks >= seconds // 2  # and the screen was really compared, again and again

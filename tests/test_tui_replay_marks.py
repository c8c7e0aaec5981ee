"""A replayed alert never looks like news (issue 17): its chat message and subject start with
"[replay]", the console's list marks it (↺ replay) at its event's time, not the replay's, and
its detail says when the event was observed and when it was re-sent."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import peewee
import pytest
from textual.widgets import Static
from tui_pilot import console, settle
from tui_seed import NOW, add_alert

from mrt.config import Config
from mrt.delivery.channels import resolve_targets
from mrt.ops import replay as replay_ops
from mrt.replay import plan_replay
from mrt.store.models import Alert, Event, Outbox
from tui.widgets.alert_table import AlertTable

pytestmark = pytest.mark.anyio

CONFIG = Config.model_validate(
    {
        "channels": {
            "hook": {"urls": ["json://127.0.0.1:9/hook"]},
            "mail": {"urls": ["mailto://ops:pw@example.invalid?to=ops@example.invalid"]},
        },
        "rules": [
            {"name": "deepseek", "when": {"keywords": ["deepseek"]}, "notify": ["hook", "mail"]}
        ],
    }
)
OBSERVED = NOW - timedelta(days=2, hours=3)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_a_replay_is_marked_in_the_message_the_list_and_the_detail(
    db: peewee.Database, db_path: Path
) -> None:
    original = add_alert("DeepSeek-V4 weights released", at=OBSERVED)
    plan = plan_replay(CONFIG, resolve_targets(CONFIG, {}), since=NOW - timedelta(days=3), now=NOW)
    result = replay_ops.apply(plan, now=NOW, actor="cli")
    (replayed,) = result.alert_ids
    assert Alert.get_by_id(replayed).kind == "replay"
    boxes = list(Outbox.select().where(Outbox.alert == replayed).order_by(Outbox.channel))
    assert {b.channel for b in boxes} == {"hook", "mail"}
    for box in boxes:
        assert box.body.startswith("[replay] "), box.body
    mail = next(b for b in boxes if b.channel == "mail")
    assert mail.subject.startswith("[replay] ")  # the email's subject line says it first
    original_box = Outbox.get(Outbox.alert == original)
    assert not original_box.body.startswith("[replay]")

    app = console(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(AlertTable)
        assert table.ids[0] == replayed and table.highlighted_id() == replayed
        when, title, _ = table.row_cells(replayed)
        assert title.plain.startswith("↺ replay DeepSeek-V4")
        assert OBSERVED.strftime("%m-%d %H:%M") in when.plain  # the event's time ...
        assert NOW.strftime("%m-%d %H:%M") not in when.plain  # ... not the replay's
        plain_title = table.row_cells(original)[1].plain
        assert not plain_title.startswith("↺")
        await pilot.pause(0.2)  # the detail's debounce
        await settle(pilot)
        detail = str(app.screen.query_one("#alert-detail-body", Static).render())
    event = Event.get_by_id(Alert.get_by_id(replayed).event_id)
    assert event.observed_at == OBSERVED
    assert "REPLAY of an event observed 2026-11-18 06:30:00 UTC, re-sent 2026-11-20 09:30:00" in (
        detail
    )

"""The detail pane shows the details the event's source names for its type (EVENT_DETAILS), as
inert text: a label that looks like markup is shown as written."""

from __future__ import annotations

from pathlib import Path

import peewee
import pytest
from textual.widgets import Static
from tui_pilot import console, settle
from tui_seed import add_alert

from mrt.store.models import AiCacheEntry, Alert, Event
from tui.screens.alerts import AlertsScreen

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_the_detail_pane_shows_the_source_details(db: peewee.Database,
                                                        db_path: Path) -> None:
    alert_id = add_alert("Fix the scheduler")
    event = Event.get_by_id(Alert.get_by_id(alert_id).event_id)
    event.event_type = "pr_merged"
    event.details = {"author": "octocat", "labels": ["[bold red]loud[/]", "\x1b[31mbug"],
                     "state": "closed", "merged": True, "draft": False, "comments": 3}
    event.save()
    app = console(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, AlertsScreen)
        body = str(app.screen.query_one("#alert-detail-body", Static).render())
    lines = body.splitlines()
    assert "Author: octocat" in lines and "State: closed" in lines and "Merged: yes" in lines
    assert "Labels: [bold red]loud[/], bug" in lines  # markup shown as written, escape gone
    assert not any(line.startswith(("Draft:", "Comments:")) for line in lines)  # not named
    assert "\x1b" not in body


async def test_the_detail_pane_shows_what_ai_made_of_the_event(db: peewee.Database,
                                                               db_path: Path) -> None:
    alert_id = add_alert("Qwen3 tokenizer crash")
    event = Event.get_by_id(Alert.get_by_id(alert_id).event_id)
    event.details = {**(event.details or {}), "cluster": "c0123456789ab"}
    event.decision_detail = {**(event.decision_detail or {}), "triaged": {
        "route": "notify", "by": "ai", "why": "score 0.90", "model": "qwen3-8b",
        "prompt_version": "triage-1", "score": 0.9, "confidence": 0.8}}
    event.save()
    AiCacheEntry.create(fingerprint=event.fingerprint, capability="summary", model="qwen3-8b",
                        prompt_version="summary-1", created_at=event.observed_at,
                        text="Tokenizer crash on Qwen3 [bold]inputs[/]\nUpgrade when fixed.")
    app = console(db_path)
    async with app.run_test(size=(120, 50)) as pilot:
        await settle(pilot)
        body = str(app.screen.query_one("#alert-detail-body", Static).render())
    lines = body.splitlines()
    assert "AI" in lines
    assert "  summary by qwen3-8b: Tokenizer crash on Qwen3 [bold]inputs[/]" in lines
    assert "Upgrade when fixed." in lines
    assert "  triage: score 0.90, confidence 0.80: notify (by qwen3-8b)" in lines
    assert "  cluster: c0123456789ab (lexical, no model)" in lines


async def test_no_ai_section_without_ai(db: peewee.Database, db_path: Path) -> None:
    add_alert("Fix the scheduler")
    app = console(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        body = str(app.screen.query_one("#alert-detail-body", Static).render())
    assert "AI" not in body.splitlines() and "summary by" not in body

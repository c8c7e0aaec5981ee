"""mrt.alerting, the one place a decision becomes an alert with its deliveries: one channel,
several channels, a missing channel (one behaviour everywhere), an aggregate, a digest and an
operators' notice, each stored in a real SQLite file and read back as the console and
`mrt trace` read it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import peewee
import pytest
from test_replay_plan import store, tracker

from mrt.alerting import (
    NOT_CONFIGURED,
    Renderer,
    ops_notice,
    plan_aggregate,
    plan_digest,
    plan_event_alert,
)
from mrt.cli import main
from mrt.commands.replay import format_plan
from mrt.config import Config, DigestConfig
from mrt.delivery.channels import resolve_targets
from mrt.delivery.digest_render import DigestEntry
from mrt.errors import TemplateError
from mrt.events import TrackerEvent
from mrt.ops.explain import alert_detail
from mrt.ops.replay import apply as apply_replay
from mrt.replay import plan_replay
from mrt.rules import Decision, RuleMatch
from mrt.store.cycle import PlannedAlert, create_alert
from mrt.store.db import write_transaction
from mrt.store.models import Alert, Outbox, database_proxy
from mrt.store.views.alerts import went_to_no_one

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CONFIG = Config.model_validate(
    {
        "channels": {
            "hook": {"urls": ["json://127.0.0.1:9/hook-a", "json://127.0.0.1:9/hook-b"]},
            "mail": {"urls": ["mailtos://u:${SMTP_PASSWORD}@smtp.example.org?to=a@b.org"]},
            "pager": {"urls": ["json://127.0.0.1:9/pager"], "template": "{{ nope.x }}"},
        },
        "rules": [
            {"name": "deepseek", "when": {"keywords": ["deepseek"]}, "notify": ["hook", "mail"]}
        ],
        "digests": {"daily": {"cron": "0 9 * * *", "channels": ["hook"]}},
        "observability": {"ops_channels": ["mail", "gone"]},
    }
)
TARGETS = resolve_targets(CONFIG, {"SMTP_PASSWORD": "pw"})
RENDERER = Renderer(CONFIG)


def event(n: int, title: str = "DeepSeek-V3 support") -> TrackerEvent:
    return TrackerEvent(
        source="github",
        source_key="github:vllm-project/vllm",
        resource_type="pull_request",
        resource_id=str(n),
        event_type="pr_merged",
        event_id=str(n),
        title=f"{title} #{n}",
        url=f"https://github.com/vllm-project/vllm/pull/{n}",
        observed_at=T0,
    )


def decision(*channels: str, action: str = "notify") -> Decision:
    return Decision(
        action=action,
        channels=channels,
        priority="high",
        tags=("deepseek",),
        matched=(RuleMatch("deepseek", ("title contained 'DeepSeek'",)),),
        decided_by="deepseek",
    )


def stored(plan: PlannedAlert, db: peewee.Database, kind: str = "event") -> Any:
    with write_transaction(db):
        alert_id, _ = create_alert(
            plan, event_id=None, fingerprint=None, source_key=None, version_id=None,
            kind=kind, now=T0,
        )
    return Alert.get_by_id(alert_id)


def outbox_rows(alert: Any) -> list[tuple[str, str]]:
    rows = Outbox.select().where(Outbox.alert == alert.id).order_by(Outbox.id)
    return [(r.channel, r.target) for r in rows]


def no_one_ids() -> set[int]:
    return {int(a.id) for a in Alert.select().where(went_to_no_one())}


def test_one_channel_is_one_delivery_per_target_with_the_same_message(
    db: peewee.Database,
) -> None:
    plan = plan_event_alert(RENDERER, TARGETS, event(1), decision("hook"))
    assert [d.target_key for d in plan.deliveries] == [t.key for t in TARGETS["hook"]]
    assert plan.deliveries[0].message is plan.deliveries[1].message  # rendered once
    assert "DeepSeek-V3 support #1" in plan.deliveries[0].message.body
    assert plan.matched == [{"rule": "deepseek", "reasons": ["title contained 'DeepSeek'"]}]
    assert (plan.title, plan.priority, plan.tags, plan.payload) == (
        "DeepSeek-V3 support #1", "high", ("deepseek",), {},
    )

    alert = stored(plan, db)
    assert outbox_rows(alert) == [("hook", t.key) for t in TARGETS["hook"]]
    assert alert.payload == {} and int(alert.id) not in no_one_ids()


def test_several_channels_each_get_their_own_rendering(db: peewee.Database) -> None:
    plan = plan_event_alert(RENDERER, TARGETS, event(2), decision("hook", "mail"))
    by_channel = {d.channel: d.message for d in plan.deliveries}
    assert by_channel["hook"].extra["kind"] == "chat" and not by_channel["hook"].subject
    assert by_channel["mail"].extra["kind"] == "email" and "DeepSeek" in by_channel["mail"].subject

    alert = stored(plan, db)
    assert [c for c, _ in outbox_rows(alert)] == ["hook", "hook", "mail"]


def test_a_single_events_template_error_raises_for_the_cycles_policy() -> None:
    with pytest.raises(TemplateError, match="channel 'pager'"):
        plan_event_alert(RENDERER, TARGETS, event(3), decision("hook", "pager"))


def test_a_missing_channel_is_left_out_and_recorded_where_console_and_trace_look(
    db: peewee.Database,
) -> None:
    detail: dict[str, Any] = {}
    some = plan_event_alert(RENDERER, TARGETS, event(4), decision("hook", "gone"), detail=detail)
    assert {d.channel for d in some.deliveries} == {"hook"}
    assert some.payload == {"missing_channels": ["gone"]} and detail == some.payload
    partly = stored(some, db)
    shown = alert_detail(int(partly.id))
    assert shown is not None and shown.missing_channels == ("gone",) and shown.undelivered is None

    nobody = stored(plan_event_alert(RENDERER, TARGETS, event(5), decision("gone")), db)
    assert outbox_rows(nobody) == [] and no_one_ids() == {int(nobody.id)}
    shown = alert_detail(int(nobody.id))
    assert shown is not None and shown.undelivered is not None
    assert "not configured: gone" in shown.undelivered


def test_a_replay_to_a_removed_channel_is_an_alert_to_no_one_that_trace_explains(
    db: peewee.Database, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store((tracker("github:vllm-project/vllm", "DeepSeek merge", T0), "none"))
    now = T0 + timedelta(hours=1)
    # the worker reloaded without the channel's targets: what the rules name has none now
    without = {name: targets for name, targets in TARGETS.items() if name != "mail"}
    plan = plan_replay(CONFIG, without, since=T0, now=now)
    [item] = plan.items
    assert item.channels == ("hook",) and item.missing_channels == ("mail",)
    assert plan.deliveries == 2 and not plan.skipped

    # and when none of its channels has a target, the replay still records it went to no one
    nobody = plan_replay(CONFIG, {"pager": TARGETS["pager"]}, since=T0, now=now)
    [item] = nobody.items
    assert item.channels == () and item.missing_channels == ("hook", "mail")
    assert "-> no one (not configured: hook, mail)" in format_plan(nobody, dry_run=True)
    result = apply_replay(nobody, now=now, actor="test", reason=None, db=db)
    [alert_id] = result.alert_ids
    alert = Alert.get_by_id(alert_id)
    assert alert.kind == "replay" and outbox_rows(alert) == [] and result.deliveries == 0
    assert alert.payload["missing_channels"] == ["hook", "mail"] and alert_id in no_one_ids()

    assert main(["trace", "--db", str(db_path), f"#{alert_id}"]) == 0
    database_proxy.initialize(db)
    out = capsys.readouterr().out
    assert "went to no one" in out and "not configured: hook, mail" in out


def test_an_aggregate_records_each_channel_that_could_not_be_told(db: peewee.Database) -> None:
    members = [event(n, "DeepSeek edit") for n in (6, 7, 8)]
    merged = Decision(
        action="aggregate", channels=("hook", "pager", "gone"), priority="normal",
        matched=decision().matched, group_key="source=github",
    )
    plan = plan_aggregate(RENDERER, TARGETS, members, merged, {"members": 3})
    assert plan.title == "3 updates: DeepSeek edit #6" and plan.group_key == "source=github"
    assert {d.channel for d in plan.deliveries} == {"hook"}
    body = plan.deliveries[0].message.body
    assert all(f"DeepSeek edit #{n}" in body for n in (6, 7, 8))
    problems = plan.payload["channel_problems"]
    assert problems["gone"] == NOT_CONFIGURED and "template" in problems["pager"]
    assert plan.payload["missing_channels"] == ["gone"] and plan.payload["members"] == 3

    alert = stored(plan, db, kind="aggregate")
    assert [c for c, _ in outbox_rows(alert)] == ["hook", "hook"]
    assert alert.payload["channel_problems"] == problems


def test_a_digest_sends_each_channel_its_own_entries(db: peewee.Database) -> None:
    entries = [DigestEntry(event(n, "DeepSeek note"), "deepseek", "low") for n in (10, 11)]
    per_channel = {"hook": entries, "mail": entries[:1], "gone": entries}
    merged = Decision(action="digest", channels=tuple(per_channel), group_key="digest:daily")
    digest = CONFIG.digests["daily"]
    assert isinstance(digest, DigestConfig)
    plan = plan_digest(
        RENDERER, TARGETS, "daily", digest, per_channel, merged, {"items": 2}, items=2
    )
    assert plan.title == "Digest daily: 2 updates" and plan.group_key == "digest:daily"
    by_channel = {d.channel: d.message for d in plan.deliveries}
    assert by_channel["hook"].extra["events"] == 2 and by_channel["mail"].extra["events"] == 1
    assert "Digest daily: 1 update" in by_channel["mail"].subject
    assert plan.payload["channel_problems"] == {"gone": NOT_CONFIGURED}

    alert = stored(plan, db, kind="digest")
    assert [c for c, _ in outbox_rows(alert)] == ["hook", "hook", "mail"]
    assert alert.payload["items"] == 2 and alert.payload["missing_channels"] == ["gone"]


def test_an_operators_notice_goes_to_the_ops_channels_and_records_a_missing_one(
    db: peewee.Database,
) -> None:
    from mrt.delivery.base import Message

    with write_transaction(db):
        ops_notice(
            CONFIG, TARGETS, Message("MRT source failing", "github failed 3 times"),
            title="MRT source github failing", kind="source_health", tags=("source-health",),
            now=T0,
        )
    alert = Alert.get()
    assert outbox_rows(alert) == [("mail", TARGETS["mail"][0].key)]
    assert alert.payload == {"missing_channels": ["gone"]} and alert.matched == []

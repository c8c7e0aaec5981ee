"""plan_replay and mrt.ops.replay.apply on events committed through
mrt.store.cycle.commit_cycle: the filters, what counts as delivered, what is left out and why,
and idempotence."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import peewee
import pytest

from mrt.cli import main
from mrt.config import Config
from mrt.delivery.channels import resolve_targets
from mrt.errors import ConfigError
from mrt.events import TrackerEvent
from mrt.ops.replay import apply as apply_replay
from mrt.replay import ReplayPlan, plan_replay
from mrt.store import noise, silences, sources
from mrt.store.cycle import CycleSuccess, PlannedEvent, commit_cycle
from mrt.store.db import write_transaction
from mrt.store.models import Alert, AuditLog, Event, Outbox, database_proxy

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=3)
CONFIG_DATA: dict[str, object] = {
    "channels": {
        "hook": {"urls": ["json://127.0.0.1:9/hook"]},
        "ops": {"urls": ["json://127.0.0.1:9/ops-a", "json://127.0.0.1:9/ops-b"]},
    },
    "rules": [
        {
            "name": "github-deepseek",
            "when": {"source": "github", "keywords": ["deepseek"]},
            "notify": {"channels": ["hook"]},
        },
        {"name": "hf-models", "when": {"source": "huggingface"}, "notify": ["hook", "ops"]},
    ],
}
CONFIG = Config.model_validate(CONFIG_DATA)
TARGETS = resolve_targets(CONFIG, {})


def tracker(source_key: str, title: str, at: datetime, decision_hint: str = "") -> TrackerEvent:
    source = source_key.split(":")[0]
    return TrackerEvent(
        source=source,
        source_key=source_key,
        resource_type="model" if source == "huggingface" else "pull_request",
        resource_id=f"{source_key}#{title}",
        event_type="model_added" if source == "huggingface" else "pr_merged",
        event_id=title + decision_hint,
        title=title,
        observed_at=at,
    )


def store(*events: tuple[TrackerEvent, str]) -> None:
    """Commit events with their stored decisions, as a cycle under an older rule set would."""
    for event, decision in events:
        sources.ensure_states([(event.source_key, event.source)], event.observed_at)
        with write_transaction(database_proxy.obj):  # the caller owns the transaction
            commit_cycle(
                database_proxy.obj,
                event.source_key,
                [PlannedEvent(event=event, decision=decision)],
                CycleSuccess(
                    cursor={},
                    validators={},
                    snapshots={},
                    degraded=None,
                    http_status=200,
                    ratelimit_remaining=None,
                    ratelimit_reset_at=None,
                    next_poll_at=event.observed_at,
                ),
                rule_digest="old-rules",
                rule_canonical={"rules": []},
                metric={},
                now=event.observed_at,
            )


@pytest.fixture
def three(db: peewee.Database) -> None:
    store(
        (tracker("github:vllm-project/vllm", "DeepSeek merge", T0), "none"),
        (
            tracker("github:sgl-project/sglang", "DeepSeek in sglang", T0 + timedelta(minutes=1)),
            "none",
        ),
        (tracker("huggingface:deepseek-ai", "DeepSeek-V3", T0 + timedelta(minutes=2)), "none"),
        (tracker("github:vllm-project/vllm", "unrelated", T0 + timedelta(minutes=3)), "none"),
    )


def titles(plan: ReplayPlan) -> list[str]:
    return [item.title for item in plan.items]


def plan(**kwargs: object) -> ReplayPlan:
    return plan_replay(CONFIG, TARGETS, since=T0, now=NOW, **kwargs)  # type: ignore[arg-type]


def test_filters(three: None) -> None:
    everything = plan()
    assert titles(everything) == ["DeepSeek merge", "DeepSeek in sglang", "DeepSeek-V3"]
    assert everything.deliveries == 1 + 1 + 3 and everything.considered == 4
    assert everything.skipped == {"rules now decide none": 1}
    assert titles(plan(source="github:vllm-project/*")) == ["DeepSeek merge"]
    assert titles(plan(source="huggingface:deepseek-ai")) == ["DeepSeek-V3"]
    assert titles(plan(rule="hf-models")) == ["DeepSeek-V3"]
    ops = plan(channel="ops")
    assert titles(ops) == ["DeepSeek-V3"] and ops.items[0].channels == ("ops",)
    assert ops.deliveries == 2
    assert titles(plan(until=T0 + timedelta(minutes=1))) == ["DeepSeek merge"]

    with pytest.raises(
        ConfigError, match="no rule named 'nope'; the current rules are: github-deepseek, hf-models"
    ):
        plan(rule="nope")
    with pytest.raises(ConfigError, match="no channel named 'pager'; configured: hook, ops"):
        plan(channel="pager")
    with pytest.raises(ConfigError, match="expected a moment after --since"):
        plan(until=T0)


def test_only_what_was_never_delivered_and_a_stale_plan_adds_nothing(
    db: peewee.Database, three: None
) -> None:
    first, stale = plan(), plan()
    result = apply_replay(first, db=db, now=NOW, actor="cli", reason="new rules")
    assert len(result.alert_ids) == 3 and result.deliveries == 5 and result.dropped == 0
    assert plan().items == [] and plan().skipped["already delivered"] == 3

    again = apply_replay(stale, now=NOW, actor="cli", reason=None)  # the bound database
    assert again.alert_ids == () and again.dropped == 3 and Outbox.select().count() == 5

    # a dead delivery was never delivered: replay tries that channel again, and only that one
    Outbox.update(status="dead").where(Outbox.channel == "ops").execute()
    retry = plan()
    assert titles(retry) == ["DeepSeek-V3"] and retry.items[0].channels == ("ops",)
    assert retry.deliveries == 2
    assert titles(plan(resend=True)) == ["DeepSeek merge", "DeepSeek in sglang", "DeepSeek-V3"]
    assert [a.action for a in AuditLog.select()] == ["replay", "replay"]


def test_baseline_waiting_and_silenced_now_are_left_out(db: peewee.Database) -> None:
    store(
        (tracker("github:a/b", "DeepSeek first poll", T0), "baseline"),
        (tracker("github:a/b", "DeepSeek windowed", T0 + timedelta(minutes=1)), "aggregate"),
        (tracker("huggingface:deepseek-ai", "DeepSeek-R2", T0 + timedelta(minutes=2)), "none"),
        (tracker("github:a/b", "DeepSeek muted then", T0 + timedelta(minutes=3)), "silenced"),
    )
    # as the cycle does for an aggregate decision: the event waits in an open window
    windowed = Event.get(Event.title == "DeepSeek windowed")
    noise.add_to_bucket(windowed.id, "github:a/b", ["ops"], 60, T0 + timedelta(minutes=1))
    silences.create_silence(
        {"source": "huggingface"},
        expires_at=NOW + timedelta(hours=1),
        created_by="cli",
        reason=None,
        now=NOW - timedelta(minutes=1),
    )
    result = plan()
    assert titles(result) == ["DeepSeek muted then"]  # its silence is over: replayable
    assert result.skipped == {
        "stored as baseline": 1,
        "waiting in an aggregation window or digest": 1,
        "silenced now": 1,
    }
    assert "DeepSeek windowed" in titles(plan(resend=True))
    assert Alert.select().count() == 0


class Terminal(io.StringIO):
    """A stdin that says it is a terminal, with the operator's answer in it."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "code", "alerts"), [("n\n", 1, 0), ("yes\n", 0, 3)])
def test_the_real_run_asks_on_a_terminal(
    db: peewee.Database,
    db_path: Path,
    tmp_path: Path,
    three: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    code: int,
    alerts: int,
) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps(CONFIG_DATA))
    monkeypatch.setattr("sys.stdin", Terminal(answer))
    assert (
        main(["replay", "--config", str(config), "--db", str(db_path), "--since", "2026-11-20"])
        == code
    )
    database_proxy.initialize(db)
    out = capsys.readouterr().out
    assert "3 events to send (5 deliveries)" in out and "enqueue 5 deliveries? [y/N]" in out
    assert Alert.select().count() == alerts and AuditLog.select().count() == (1 if alerts else 0)


def test_cli_date_errors_exit_2(
    db: peewee.Database, db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.json"
    config.write_text('{"channels": {"hook": {"urls": ["json://127.0.0.1:9/h"]}}}')
    common = ["replay", "--config", str(config), "--db", str(db_path)]
    assert main([*common, "--since", "last week"]) == 2
    assert "--since: expected a span such as 7d" in capsys.readouterr().err
    assert main([*common, "--since", "2026-11-20", "--until", "2026-11-19"]) == 2
    assert (
        "--until: expected a moment after --since (2026-11-20T00:00:00+00:00), "
        "found 2026-11-19T00:00:00+00:00"
    ) in capsys.readouterr().err
    database_proxy.initialize(db)


def test_json_plan_and_result(
    db: peewee.Database,
    db_path: Path,
    tmp_path: Path,
    three: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps(CONFIG_DATA))
    common = ["replay", "--config", str(config), "--db", str(db_path), "--since", "2026-11-20"]
    assert main([*common, "--json"]) == 2  # no question can be asked in JSON
    # with --json the error is the JSON document on stdout (docs/JSON.md)
    assert "--json needs --dry-run or --yes" in json.loads(capsys.readouterr().out)["error"]["message"]
    assert main([*common, "--json", "--dry-run", "--channel", "ops"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert dry["result"] is None and dry["plan"]["deliveries"] == 2
    [event] = dry["plan"]["events"]
    assert (event["title"], event["channels"], event["rules"]) == (
        "DeepSeek-V3",
        ["ops"],
        ["hf-models"],
    )
    assert main([*common, "--json", "--yes", "--reason", "ops missed it"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["result"]["deliveries"] == 5 and len(done["result"]["alerts"]) == 3
    database_proxy.initialize(db)
    assert AuditLog.get().reason == "ops missed it"

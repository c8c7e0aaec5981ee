"""Silences in real cycles: a silenced event is stored as such (with its silence), never alerted
and never dropped; the silence stops at its expiry on the driven clock; matchers mean exactly
what the same `when:` means in a rule."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import peewee
import pytest
from pytest_httpserver import HTTPServer
from test_replay_support import config_data, make_engine, run_cycle, write_config
from test_source_support import T0, FakeGitHub, close, recorded_issues

from mrt.config import Config
from mrt.errors import ConfigError, MrtError
from mrt.events import TrackerEvent
from mrt.ops import silences as silence_ops
from mrt.rules import compile_rules
from mrt.rules.silences import SilenceRow, compile_active, compile_matcher
from mrt.store import silences
from mrt.store.models import Alert, AuditLog, Event, Outbox, Silence


def test_a_silenced_event_is_stored_with_its_silence_and_alerts_after_expiry(
    db: peewee.Database, db_path: Path, tmp_path: Path, httpserver: HTTPServer
) -> None:
    config = write_config(tmp_path / "c.json", config_data(httpserver, db_path))
    engine = make_engine(db, config)
    issues = recorded_issues()
    FakeGitHub(httpserver, "PyGithub/PyGithub", issues)
    run_cycle(engine, T0)  # baseline
    silence_id = silences.create_silence(
        {"source_key": "github:pygithub/*", "keywords": "tokenizer"},
        expires_at=T0 + timedelta(hours=1),
        created_by="cli",
        reason="tokenizer work is noisy today",
        now=T0,
    )

    issues[0]["title"] = "Support DeepSeek tokenizer"  # matches the rules and the silence
    issues[1]["title"] = "DeepSeek-V3 weights"  # matches the rules only
    issues[2]["title"] = "tokenizer docs"  # matches the silence only: the rules decide none
    for n, issue in enumerate(issues[:3]):
        close(issue, T0 + timedelta(minutes=5 + n))
    report = run_cycle(engine, T0 + timedelta(minutes=10))

    assert report.new_events == 3 and report.alerts == 1
    muted = Event.get(Event.title == "Support DeepSeek tokenizer")
    assert muted.decision == "silenced" and muted.silence_id == silence_id
    assert muted.decision_detail["silence"] == {
        "id": silence_id,
        "reason": "tokenizer work is noisy today",
    }
    assert (
        muted.decision_detail["matched"][0]["rule"] == "watch_keywords"
    )  # what it would have done
    assert Alert.select().where(Alert.event == muted.id).count() == 0
    assert Event.get(Event.title == "tokenizer docs").decision == "none"
    told = Alert.get()
    assert told.title == "DeepSeek-V3 weights" and Outbox.select().count() == 1

    # one hour later the silence has run out: the next matching event alerts
    issues[3]["title"] = "DeepSeek tokenizer, part two"
    close(issues[3], T0 + timedelta(minutes=61))
    report = run_cycle(engine, T0 + timedelta(minutes=65))
    assert report.alerts == 1
    later = Event.get(Event.title == "DeepSeek tokenizer, part two")
    assert later.decision == "notify" and later.silence_id is None


def matching_silence(event: TrackerEvent, now: datetime) -> SilenceRow | None:
    """What the pipeline does: the store's active rows, matched by the rules' conditions."""
    return compile_active(silences.active_silences(now)).match(event)


def event(title: str, **fields: object) -> TrackerEvent:
    base: dict[str, object] = {
        "source": "github",
        "source_key": "github:vllm-project/vllm",
        "resource_type": "issue",
        "resource_id": "vllm-project/vllm#1",
        "event_type": "issue_opened",
        "event_id": "1",
        "title": title,
        "observed_at": T0,
        **fields,
    }
    return TrackerEvent(**base)  # type: ignore[arg-type]


def test_expiry_is_exact_on_the_driven_clock_and_early_expiry_is_audited(
    db: peewee.Database,
) -> None:
    sid = silence_ops.create(
        {"event_type": "issue_opened"}, expires_at=T0 + timedelta(hours=2), now=T0, actor="tui"
    )
    opened = event("anything")
    assert matching_silence(opened, T0 - timedelta(seconds=1)) is None  # not yet made
    assert matching_silence(opened, T0) is not None
    last = T0 + timedelta(hours=2) - timedelta(microseconds=1)
    assert matching_silence(opened, last) is not None
    assert matching_silence(opened, T0 + timedelta(hours=2)) is None
    assert matching_silence(event("x", event_type="issue_closed"), T0) is None

    other = silence_ops.create(
        {"keywords": ["qwen"]}, expires_at=T0 + timedelta(days=1), now=T0, actor="cli", reason="r"
    )
    silence_ops.expire(other, now=T0 + timedelta(minutes=30), actor="cli", reason="done")
    qwen = event("Qwen3", event_type="pr_merged")
    assert matching_silence(qwen, T0 + timedelta(minutes=29)) is not None
    assert matching_silence(qwen, T0 + timedelta(minutes=30)) is None
    assert [s.id for s in silences.active_silences(T0 + timedelta(minutes=31))] == [sid]
    with pytest.raises(MrtError, match="is not active"):
        silence_ops.expire(other, now=T0 + timedelta(minutes=40), actor="cli")
    with pytest.raises(MrtError, match="no silence #999"):
        silence_ops.expire(999, now=T0, actor="cli")
    actions = [(a.actor, a.action, a.params.get("silence")) for a in AuditLog.select()]
    assert actions == [
        ("tui", "silence.create", sid),
        ("cli", "silence.create", other),
        ("cli", "silence.expire", other),
    ]


MATCHERS = [
    {"source_key": "github:vllm-project/*"},
    {"source_key": ["github:sgl-project/*", "huggingface:*"]},
    {"resource_id": "vllm-project/vllm#1?"},
    {"keywords": {"terms": ["qwen"], "word": True}},
    {"regex": {"pattern": "v\\d+\\.\\d+", "field": "title"}},
    {"event_type": ["pr_merged", "issue_opened"], "not": {"authors": ["dependabot*"]}},
    {"labels": {"any": ["bug"]}},
]
EVENTS = [
    event("Qwen3 support"),
    event("qwen vl support"),
    event("release v0.7 notes", resource_id="vllm-project/vllm#12"),
    event("bump", author="dependabot[bot]", labels=("bug",)),
    event("model", source="huggingface", source_key="huggingface:Qwen", event_type="model_added"),
    event("x", source_key="github:sgl-project/sglang", event_type="pr_merged", author="alice"),
]


@pytest.mark.parametrize("matcher", MATCHERS, ids=[str(m) for m in MATCHERS])
def test_a_matcher_means_what_the_same_rule_condition_means(
    db: peewee.Database, matcher: dict[str, object]
) -> None:
    ruleset = compile_rules(
        Config.model_validate({"rules": [{"name": "r", "when": matcher, "notify": True}]})
    )
    silences.create_silence(
        matcher, expires_at=T0 + timedelta(hours=1), created_by="cli", reason=None, now=T0
    )
    by_rule = [bool(ruleset.evaluate(e, now=T0).matched) for e in EVENTS]
    by_silence = [matching_silence(e, T0) is not None for e in EVENTS]
    assert by_silence == by_rule
    assert any(by_rule) and not all(by_rule)  # each case tells matching from not matching


def test_bad_matchers_are_clear_errors_and_store_nothing(db: peewee.Database) -> None:
    cases = [
        ({"regex": "(?=deepseek)"}, "silence.matcher.regex.pattern: invalid regular expression"),
        ({"titel": "x"}, "unknown condition 'titel'"),
        ({}, "at least one matcher"),
    ]
    for matcher, message in cases:  # the rules validate a matcher (`mrt silence add` does first)
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
            compile_matcher(matcher)
    with pytest.raises(ConfigError, match="at least one matcher"):  # the store refuses it too
        silences.create_silence(
            {}, expires_at=T0 + timedelta(hours=1), created_by="cli", reason=None, now=T0
        )
    with pytest.raises(ConfigError, match="not after now"):
        silences.create_silence(
            {"keywords": "x"}, expires_at=T0, created_by="cli", reason=None, now=T0
        )
    assert Silence.select().count() == 0 and AuditLog.select().count() == 0

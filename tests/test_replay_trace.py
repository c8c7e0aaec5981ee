"""`mrt trace` explains decisions in words: which rule matched and why, the nearest miss, the
silence that muted an event; and the rule version that decided, before and after a replay."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import peewee
import pytest
from pytest_httpserver import HTTPServer
from test_replay_support import config_data, make_engine, run_cycle, write_config
from test_source_support import T0, FakeGitHub, close, recorded_issues

from mrt.cli import main
from mrt.ops.explain import explain_decision
from mrt.ops.replay import apply as apply_replay
from mrt.replay import plan_replay
from mrt.rules import compile_rules
from mrt.store import silences
from mrt.store.models import Event, database_proxy

RULES = [
    {"name": "releases-high", "when": {"keywords": ["urgent"]}, "tag": {"tags": ["hot"]}},
    {
        "name": "deepseek-prs",
        "when": {"keywords": ["DeepSeek"], "source_key": "github:pygithub/*"},
        "notify": {"channels": ["hook"], "priority": "high"},
    },
]


def run_trace(db: peewee.Database, db_path: Path, *argv: str) -> None:
    assert main(["trace", "--db", str(db_path), *argv]) == 0
    database_proxy.initialize(db)  # the command bound (and closed) a connection of its own


def test_trace_says_why_in_words(
    db: peewee.Database,
    db_path: Path,
    tmp_path: Path,
    httpserver: HTTPServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = config_data(httpserver, db_path, watch_keywords=[], rules=RULES)
    config = write_config(tmp_path / "c.json", data)
    engine = make_engine(db, config)
    issues = recorded_issues()
    FakeGitHub(httpserver, "PyGithub/PyGithub", issues)
    run_cycle(engine, T0)
    silence_id = silences.create_silence(
        {"keywords": "flaky"},
        expires_at=T0 + timedelta(hours=1),
        created_by="cli",
        reason="CI is flaky today",
        now=T0,
    )
    for n, title in enumerate(["DeepSeek-V3 tokenizer", "urgent: Qwen3", "DeepSeek flaky test"]):
        issues[n]["title"] = title
        close(issues[n], T0 + timedelta(minutes=n + 1))
    run_cycle(engine, T0 + timedelta(minutes=10))
    version = compile_rules(config).digest[:12]

    def trace(title: str) -> str:
        fingerprint = Event.get(Event.title == title).fingerprint
        run_trace(db, db_path, fingerprint)
        return capsys.readouterr().out

    told = trace("DeepSeek-V3 tokenizer")
    assert f"decision notify (rule version {version})" in told
    assert (
        "why: matched rule deepseek-prs because title contained 'DeepSeek' and "
        "source_key github:PyGithub/PyGithub matches 'github:pygithub/*'"
    ) in told
    assert "why: rule deepseek-prs decided: notify hook" in told

    missed = trace("urgent: Qwen3")
    assert "decision none" in missed
    assert "why: matched rule releases-high because title contained 'urgent'" in missed
    assert (
        "why: no delivering rule matched; nearest was deepseek-prs: "
        "title or summary did not contain any of 'DeepSeek'"
    ) in missed

    muted = trace("DeepSeek flaky test")
    assert f"why: silenced by silence #{silence_id} (CI is flaky today)" in muted
    assert "why: matched rule deepseek-prs because title contained 'DeepSeek'" in muted
    assert "no alert" in muted
    fingerprint = Event.get(Event.title == "DeepSeek flaky test").fingerprint
    run_trace(db, db_path, fingerprint, "--json")
    event = json.loads(capsys.readouterr().out)["event"]
    assert event["silence"]["id"] == silence_id and event["silence"]["created_by"] == "cli"
    assert event["explanation"][0].startswith("silenced by silence #")

    # the rules change; after a replay the event shows both versions: stored and replayed
    data["rules"][1]["when"] = {"keywords": ["DeepSeek", "Qwen"]}
    new = write_config(tmp_path / "c.json", data)
    targets = engine.targets
    plan = plan_replay(new, targets, since=T0, now=T0 + timedelta(hours=2))
    assert [i.title for i in plan.items] == ["urgent: Qwen3", "DeepSeek flaky test"]
    apply_replay(plan, db=db, now=T0 + timedelta(hours=2), actor="cli", reason="qwen")
    replayed = trace("urgent: Qwen3")
    new_version = compile_rules(new).digest[:12]
    assert f"decision none (rule version {version})" in replayed
    assert f"(replay, high, rule version {new_version})" in replayed
    assert "matched deepseek-prs: title contained 'Qwen'" in replayed


@pytest.mark.parametrize(
    ("decision", "detail", "expected"),
    [
        ("none", {"matched": [], "nearest": None}, ["no rule matched"]),
        ("baseline", {}, ["recorded by the source's first poll (the baseline): history, not news"]),
        ("seen_by_v0", {}, ["v0 had already seen it before the upgrade: not told again"]),
        (
            "suppress",
            {
                "matched": [{"rule": "bots", "reasons": ["author 'x[bot]' is on the allow list"]}],
                "decided_by": "bots",
            },
            [
                "matched rule bots because author 'x[bot]' is on the allow list",
                "suppressed by rule bots",
            ],
        ),
        (
            "aggregate",
            {
                "matched": [{"rule": "hf", "reasons": ["source is huggingface"]}],
                "action": "aggregate",
                "decided_by": "hf",
                "group_key": "source=huggingface",
                "window_minutes": 5,
            },
            [
                "matched rule hf because source is huggingface",
                "rule hf decided: aggregate (source=huggingface, 5 min window)",
            ],
        ),
        (
            "notify",
            {
                "matched": [{"rule": "r", "reasons": ["event_type is pr_merged"]}],
                "action": "notify",
                "decided_by": "r",
                "channels": ["ops"],
                "missing_channels": ["pager"],
            },
            [
                "matched rule r because event_type is pr_merged",
                "rule r decided: notify ops",
                "channels named by the rules but not configured: pager",
            ],
        ),
    ],
)
def test_explanations_of_each_decision(
    decision: str, detail: dict[str, object], expected: list[str]
) -> None:
    assert explain_decision(decision, detail) == expected

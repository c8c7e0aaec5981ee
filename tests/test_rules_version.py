"""The rule version: canonical JSON of the compiled rules and its sha256."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from mrt.config import Config
from mrt.events import TrackerEvent
from mrt.rules import Decision, RuleMatch, compile_rules

CHANNELS = {"ops": {"urls": ["json://127.0.0.1/ops"]}}


def digest_of(**config: Any) -> str:
    return compile_rules(Config.model_validate({"channels": CHANNELS, **config})).digest


def test_digest_is_the_sha256_of_the_canonical_json() -> None:
    ruleset = compile_rules(Config.model_validate({"watch_keywords": ["deepseek"]}))
    text = ruleset.canonical_json
    assert json.loads(text) == ruleset.canonical
    assert ruleset.digest == hashlib.sha256(text.encode()).hexdigest()
    assert ruleset.canonical["rules"] == [
        {
            "name": "watch_keywords",
            "origin": "watch_keywords",
            "when": {
                "keywords": {"terms": ["deepseek"], "word": False, "fields": ["title", "summary"]}
            },
            "notify": {"channels": None, "priority": None, "template": None},
            "suppress": False,
            "aggregate": None,
            "digest": None,
            "tags": [],
            "priority": None,
            "continue": False,
        }
    ]


def test_equivalent_spellings_are_one_version() -> None:
    short = digest_of(rules=[{"name": "r", "when": {"keywords": ["x"]}, "notify": True}])
    long = digest_of(
        rules=[
            {
                "name": "r",
                "description": "descriptions do not change decisions",
                "when": {
                    "keywords": {"terms": ["x"], "word": False, "fields": ["title", "summary"]}
                },
                "notify": {},
                "continue": False,
            }
        ]
    )
    assert short == long


def test_what_changes_decisions_changes_the_version() -> None:
    base = [
        {"name": "a", "when": {"source": "github"}, "notify": True},
        {"name": "b", "when": {"regex": "v[0-9]"}, "notify": True},
    ]
    original = digest_of(rules=base)
    assert digest_of(rules=list(reversed(base))) != original
    changed_pattern = [base[0], {**base[1], "when": {"regex": "v[0-9]+"}}]
    assert digest_of(rules=changed_pattern) != original
    more_channels = compile_rules(
        Config.model_validate(
            {"channels": {**CHANNELS, "team": {"urls": ["json://127.0.0.1/t"]}}, "rules": base}
        )
    ).digest
    assert more_channels != original  # "every channel" now means one more
    assert digest_of(rules=base) == original


def test_decision_as_json_is_plain_data() -> None:
    config = Config.model_validate(
        {
            "channels": CHANNELS,
            "rules": [{"name": "r", "when": {"labels": ["bug"]}, "notify": True}],
        }
    )
    decision = compile_rules(config).evaluate(
        TrackerEvent(
            source="github",
            source_key="github:a/b",
            resource_type="issue",
            resource_id="a/b#1",
            event_type="issue_opened",
            event_id="1",
            title="t",
            labels=("bug",),
        )
    )
    assert decision == Decision(
        action="notify",
        channels=("ops",),
        matched=(RuleMatch("r", ("label 'bug' present",)),),
        decided_by="r",
    )
    assert decision.delivers
    data = decision.as_json()
    assert json.loads(json.dumps(data)) == data
    assert data["matched"] == [{"rule": "r", "reasons": ["label 'bug' present"]}]

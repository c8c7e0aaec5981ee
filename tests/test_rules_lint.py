"""`mrt rules lint`: each finding names its rule; a clean rule set exits 0."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from mrt.cli import main
from mrt.config import Config
from mrt.rules import compile_rules
from mrt.rules.lint import lint_rules

FIXTURES = Path(__file__).parent / "fixtures" / "rules"


def config_from_yaml(name: str) -> Config:
    return Config.model_validate(yaml.safe_load((FIXTURES / name).read_text(encoding="utf-8")))


def as_config_file(name: str, tmp_path: Path, **replace: Any) -> str:
    """A YAML fixture written as the JSON config file `mrt` reads (top-level keys replaced)."""
    data: dict[str, Any] = yaml.safe_load((FIXTURES / name).read_text(encoding="utf-8"))
    data.update(replace)
    path = tmp_path / f"{Path(name).stem}.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_every_kind_of_finding_names_its_rule() -> None:
    findings = {(f.rule, f.code) for f in lint_rules(config_from_yaml("lint_findings.yaml"))}
    assert findings == {
        ("rules[0] (bad-pattern).when.regex.pattern", "invalid"),
        ("watch_keywords", "blank-keyword"),
        ("rules[1] (merged)", "unknown-channel"),  # welink: no v0 notify.welink section
        ("rules[2] (merged-again)", "unreachable"),  # same conditions as `merged`
        ("rules[3] (confused)", "contradictory"),  # notify + suppress
        ("rules[4] (weekly)", "unknown-digest"),
        ("rules[6] (after-the-mute)", "unreachable"),  # mute-everything matches everything
        ("rules[7] (tag-at-the-end)", "unreachable"),
        ("rules[7] (tag-at-the-end)", "dead-tags"),
        ("watch_keywords", "unreachable"),
        ("digests.daily", "unknown-channel"),
    }


def test_finding_messages_say_why() -> None:
    by_rule = {(f.rule, f.code): str(f) for f in lint_rules(config_from_yaml("lint_findings.yaml"))}
    assert (
        "RE2 has no lookahead" in by_rule[("rules[0] (bad-pattern).when.regex.pattern", "invalid")]
    )
    assert (
        "'welink' is not a configured channel" in by_rule[("rules[1] (merged)", "unknown-channel")]
    )
    assert by_rule[("rules[2] (merged-again)", "unreachable")] == (
        "rules[2] (merged-again): never reached: rules[1] (merged) has the same conditions and "
        "stops evaluation (no `continue`) [unreachable]"
    )
    assert "'weekly' is not defined" in by_rule[("rules[4] (weekly)", "unknown-digest")]
    assert (
        "rules[5] (mute-everything) matches every event and suppresses"
        in by_rule[("rules[6] (after-the-mute)", "unreachable")]
    )
    assert "did you mean 'ops'?" in by_rule[("digests.daily", "unknown-channel")]


def test_notify_with_suppress_and_continue_on_suppress_are_reported() -> None:
    findings = lint_rules(config_from_yaml("lint_findings.yaml"))
    messages = sorted(f.message for f in findings if f.rule == "rules[3] (confused)")
    assert len(messages) == 2
    assert messages[0].startswith("`continue` has no effect")
    assert "both suppresses and notifys" not in messages[1]
    assert messages[1].startswith("both suppresses and notifies the same match: suppress wins")


def test_a_continue_rule_does_not_shadow() -> None:
    config = Config.model_validate(
        {
            "channels": {"ops": {"urls": ["json://127.0.0.1"]}},
            "rules": [
                {"name": "all-first", "notify": True, "continue": True},
                {"name": "tagger", "tag": ["x"]},
                {"name": "merged", "when": {"event_type": "pr_merged"}, "notify": True},
            ],
        }
    )
    assert lint_rules(config) == []


def test_delivering_with_no_channel_configured_is_reported() -> None:
    config = Config.model_validate({"watch_keywords": ["deepseek"]})
    findings = lint_rules(config)
    assert [(f.rule, f.code) for f in findings] == [("watch_keywords", "unknown-channel")]


def test_the_clean_example_has_no_findings_and_compiles() -> None:
    config = config_from_yaml("lint_clean.yaml")
    assert lint_rules(config) == []
    assert [r.name for r in compile_rules(config).rules][-1] == "watch_keywords"


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "lint", "--config", as_config_file("lint_clean.yaml", tmp_path)]) == 0
    assert "no findings" in capsys.readouterr().out

    # loading a file is stricter than lint: a channel or digest that does not exist is refused
    # outright (issue 19: alerts that go nowhere), every one of them named
    assert main(["rules", "lint", "--config", as_config_file("lint_findings.yaml", tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "digests.daily.channels[0]: no channel named 'opps'" in err
    assert "rules[1].notify.channels[1]: no channel named 'welink'" in err
    assert "rules[4].digest: no digest named 'weekly'" in err

    rules = yaml.safe_load((FIXTURES / "lint_findings.yaml").read_text(encoding="utf-8"))["rules"]
    rules[1]["notify"]["channels"] = ["ops"]
    rules[4]["digest"] = "daily"
    fixed = as_config_file(
        "lint_findings.yaml",
        tmp_path,
        digests={"daily": {"cron": "0 9 * * *", "channels": ["ops"]}},
        rules=rules,
    )
    assert main(["rules", "lint", "--config", fixed]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 9  # the (rule, code) pairs above but the three references, `confused` twice
    assert "rules[6] (after-the-mute): never reached" in "\n".join(out)


def test_rules_without_an_action_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules"]) == 2
    assert "lint" in capsys.readouterr().out


def test_a_tag_condition_no_earlier_rule_can_satisfy_is_reported() -> None:
    config = Config.model_validate(
        {
            "channels": {"ops": {"urls": ["json://127.0.0.1"]}},
            "rules": [
                {
                    "name": "wants",
                    "when": {"not": {"tags": {"all": ["late"]}}},
                    "notify": True,
                    "continue": True,
                },
                {"name": "tagger", "tag": ["late"]},
                {"name": "typo", "when": {"tags": ["lat"]}, "notify": True},
                {"name": "fine", "when": {"tags": ["late"]}, "notify": True},
            ],
        }
    )
    assert [str(f) for f in lint_rules(config)] == [
        "rules[0] (wants): tags: 'late' is set by no earlier rule (only by a later one: rules "
        "run in order) [unset-tag]",
        "rules[2] (typo): tags: 'lat' is set by no earlier rule [unset-tag]",
    ]

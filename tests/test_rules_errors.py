"""A bad rule is a ConfigError that names the rule, the dotted place and what to write instead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mrt.config import Config
from mrt.errors import ConfigError
from mrt.rules import compile_rules

GOOD = {"name": "ok", "notify": True}

BAD_RULES: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        "about-a-topic-of-stop-words-only",
        {"name": "r", "when": {"about": "the or of"}, "notify": True},
        ["rules[1] (r).when.about: ", "the topic 'the or of' has no words to compare"],
    ),
    (
        "about-a-threshold-out-of-range",
        {"name": "r", "when": {"about": {"topic": "DeepSeek weights", "threshold": 1.5}},
         "notify": True},
        ["rules[1] (r).when.about.threshold", "1.5"],
    ),
    (
        "about-an-unknown-field",
        {"name": "r", "when": {"about": {"topic": "DeepSeek", "fields": ["titel"]}},
         "notify": True},
        ["rules[1] (r).when.about.fields[0]: ", "'titel'"],
    ),
    (
        "unknown-condition-did-you-mean",
        {"name": "r", "when": {"keyword": ["x"]}, "notify": True},
        ["rules[1] (r).when: ", "unknown condition 'keyword'", "did you mean 'keywords'?"],
    ),
    (
        "backreference",
        {"name": "r", "when": {"regex": {"field": "title", "pattern": r"(a)\1"}}, "notify": True},
        [
            "rules[1] (r).when.regex.pattern: ",
            r"invalid regular expression '(a)\\1'",
            "RE2 has no backreferences",
        ],
    ),
    (
        "lookbehind",
        {"name": "r", "when": {"regex": "(?<=x)y"}, "notify": True},
        ["rules[1] (r).when.regex.pattern: ", "RE2 has no lookahead or lookbehind", "`not:`"],
    ),
    (
        "unbalanced-parenthesis-in-nested-any",
        {
            "name": "deepseek-prs",
            "when": {"any": [{"source": "github"}, {"regex": {"field": "title", "pattern": "a("}}]},
            "notify": True,
        },
        ["rules[1] (deepseek-prs).when.any[1].regex.pattern: ", "missing )", "RE2 syntax"],
    ),
    (
        "aggregate-group-by-a-tag-without-a-name",
        {"name": "r", "aggregate": {"window_minutes": 5, "group_by": ["tag:"]}},
        ["rules[1] (r).aggregate.group_by[0]: ", "'tag:' names no tag", "'tag:project'"],
    ),
    (
        "unknown-action-did-you-mean",
        {"name": "r", "notifyy": True},
        ["rules[1] (r): ", "unknown key 'notifyy'", "did you mean 'notify'?"],
    ),
    (
        "condition-outside-when",
        {"name": "r", "event_type": "pr_merged", "notify": True},
        ["rules[1] (r): ", "unknown key 'event_type'", "conditions go under `when:`"],
    ),
    (
        "glob-of-the-wrong-type",
        {"name": "r", "when": {"source_key": 5}, "notify": True},
        ["rules[1] (r).when.source_key: ", "expected a glob string", "found int 5"],
    ),
    (
        "glob-list-item-of-the-wrong-type",
        {"name": "r", "when": {"resource_id": ["ok/*", 7]}, "notify": True},
        ["rules[1] (r).when.resource_id[1]: ", "found int 7"],
    ),
    (
        "no-action",
        {"name": "r", "when": {"event_type": "pr_merged"}},
        ["rules[1] (r): ", "the rule does nothing"],
    ),
    (
        "misspelled-regex-option-in-nested-any",
        {
            "name": "r",
            "when": {"any": [{"source": "github"}, {"regex": {"fild": "title", "pattern": "x"}}]},
            "notify": True,
        },
        ["rules[1] (r).when.any[1].regex: ", "unknown key 'fild'", "did you mean 'field'?"],
    ),
    (
        "unknown-event-field",
        {"name": "r", "when": {"regex": {"field": "detail.x", "pattern": "x"}}, "notify": True},
        ["rules[1] (r).when.regex.field: ", "unknown event field 'detail.x'", "details.<key>"],
    ),
    (
        "unknown-priority",
        {"name": "r", "when": {"priority": "urgent"}, "notify": True},
        [
            "rules[1] (r).when.priority: ",
            "unknown priority 'urgent'",
            "low, normal, high, critical",
        ],
    ),
    (
        "notify-priority-typo",
        {"name": "r", "notify": {"priority": "hi"}},
        ["rules[1] (r).notify.priority: ", "found 'hi'"],
    ),
    (
        "notify-channels-not-a-list",
        {"name": "r", "notify": {"channels": "ops"}},
        ["rules[1] (r).notify.channels: ", "valid list"],
    ),
    (
        "aggregate-and-digest",
        {"name": "r", "aggregate": {"window_minutes": 10}, "digest": "daily"},
        ["rules[1] (r): ", "aggregates or goes to a digest, not both"],
    ),
    (
        "aggregate-without-a-window",
        {"name": "r", "aggregate": True},
        ["rules[1] (r).aggregate: ", "needs `window_minutes`"],
    ),
    (
        "conditions-as-a-list",
        {"name": "r", "when": [{"source": "github"}], "notify": True},
        ["rules[1] (r).when: ", "expected a mapping of conditions", "use `all: [...]`"],
    ),
    (
        "suppress-not-a-boolean",
        {"name": "r", "suppress": "yes"},
        ["rules[1] (r).suppress: ", "expected true or false, found str 'yes'"],
    ),
    (
        "empty-keyword-list",
        {"name": "r", "when": {"keywords": {"terms": [], "word": True}}, "notify": True},
        ["rules[1] (r).when.keywords.terms: ", "at least 1 item"],
    ),
    (
        "blank-keyword",
        {"name": "r", "when": {"keywords": ["deepseek", " "]}, "notify": True},
        ["rules[1] (r).when.keywords[1]: ", "expected a keyword"],
    ),
    (
        "labels-unknown-key",
        {"name": "r", "when": {"labels": {"some": ["x"]}}, "notify": True},
        ["rules[1] (r).when.labels: ", "unknown key 'some'", "expected any, all, none"],
    ),
    (
        "authors-without-lists",
        {"name": "r", "when": {"authors": {}}, "notify": True},
        ["rules[1] (r).when.authors: ", "`allow` list, a `block` list"],
    ),
    (
        "group-by-unknown-field",
        {"name": "r", "aggregate": {"window_minutes": 5, "group_by": ["resource"]}},
        ["rules[1] (r).aggregate.group_by[0]: ", "unknown event field 'resource'"],
    ),
]


@pytest.mark.parametrize(
    ("rule", "fragments"), [(r, f) for _, r, f in BAD_RULES], ids=[i for i, _, _ in BAD_RULES]
)
def test_bad_rule_is_a_clear_config_error(rule: dict[str, Any], fragments: list[str]) -> None:
    config = Config.model_validate({"rules": [GOOD, rule]})
    with pytest.raises(ConfigError) as caught:
        compile_rules(config)
    message = str(caught.value)
    assert message.startswith(fragments[0]), message
    for fragment in fragments[1:]:
        assert fragment in message, message
    assert "Traceback" not in message


def test_duplicate_rule_names_are_rejected() -> None:
    config = Config.model_validate({"rules": [GOOD, GOOD]})
    with pytest.raises(
        ConfigError, match=r"rules\[1\] \(ok\): duplicate rule name 'ok' \(also rules\[0\]\)"
    ):
        compile_rules(config)


def test_an_explicit_rule_may_not_take_the_watch_keywords_name() -> None:
    config = Config.model_validate(
        {"watch_keywords": ["x"], "rules": [{"name": "watch_keywords", "notify": True}]}
    )
    with pytest.raises(ConfigError, match="taken by the top-level watch_keywords list"):
        compile_rules(config)


def test_the_error_names_the_config_file(tmp_path: Path) -> None:
    config = Config.model_validate(
        {"rules": [{"name": "r", "when": {"regex": "(?=x)"}, "notify": True}]}
    )
    config = config.model_copy(update={"source_path": tmp_path / "mrt.toml"})
    with pytest.raises(ConfigError) as caught:
        compile_rules(config)
    assert str(caught.value).startswith(
        f"{tmp_path / 'mrt.toml'}: rules[0] (r).when.regex.pattern: "
    )
    assert caught.value.path == "rules[0] (r).when.regex.pattern"


def test_re2_does_not_write_to_stderr_on_a_bad_pattern(capfd: pytest.CaptureFixture[str]) -> None:
    config = Config.model_validate(
        {"rules": [{"name": "r", "when": {"regex": "(?=x)"}, "notify": True}]}
    )
    with pytest.raises(ConfigError):
        compile_rules(config)
    assert capfd.readouterr().err == ""

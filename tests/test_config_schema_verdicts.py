"""The JSON Schema and the loader agree: every example, valid or not, gets the same verdict.

The schema (share/mrt-config.schema.json, generated from the loader's models and, for rules,
from mrt.rules.model's RuleSchema, whose keys and leaf specs the rules parser uses) is what an
editor checks a file with; the loader is what `mrt check` and the worker run: the file's data
through `config_from_dict`, then the rules compiled. A schema that accepted what the loader
refuses would let an editor bless a file the worker will not start with.

Some checks cannot be said in JSON Schema (RE2 syntax, cron and time-zone syntax, URLs, names
that must refer to something configured, defaults taken from another section); those are
listed in LOADER_ONLY with the reason, and the test holds that the schema passes them and the
loader refuses them, so each gap stays known.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from doc_blocks import parse_config, read_blocks
from test_rules_errors import BAD_RULES, GOOD

from mrt.config import config_from_dict
from mrt.errors import MrtError
from mrt.rules import compile_rules

jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "share" / "mrt-config.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
FIXTURES = Path(__file__).parent / "fixtures"


def _file(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        data: dict[str, Any] = json.loads(text)
    elif path.suffix == ".toml":
        data = tomllib.loads(text)
    else:
        data = yaml.safe_load(text)
    return data


def valid_examples() -> dict[str, dict[str, Any]]:
    found = {
        f"share/examples/{p.name}": _file(p) for p in sorted((ROOT / "share/examples").iterdir())
    }
    for block in read_blocks():
        # a partial block is a fragment (of a config, or of a plugin's pyproject.toml): only
        # its syntax is checked (tests/test_docs_executable.py)
        if block.lang in ("json", "toml", "yaml") and block.kind in ("config", "skip"):
            found[block.where] = parse_config(block)
    found["fixtures/rules/lint_clean.yaml"] = _file(FIXTURES / "rules" / "lint_clean.yaml")
    found["fixtures/rules/v0_example.json"] = _file(FIXTURES / "rules" / "v0_example.json")
    table = _file(FIXTURES / "rules" / "cases.yaml")
    for case in table["cases"]:
        found[f"fixtures/rules/cases.yaml:{case['id']}"] = {
            **table["base_config"],
            **case["config"],
        }
    return found


R = "rules"
CHANNELS = {"channels": {"team": {"urls": ["json://127.0.0.1/team"]}}}


def rules(*items: dict[str, Any]) -> dict[str, Any]:
    return {**CHANNELS, R: [GOOD, *items]}


INVALID: dict[str, dict[str, Any]] = {
    **{f"test_rules_errors:{name}": rules(rule) for name, rule, _ in BAD_RULES},
    "rule-without-a-name": rules({"notify": True}),
    "rule-with-a-blank-name": rules({"name": "  ", "notify": True}),
    "rule-notify-false-only": rules({"name": "r", "notify": False}),
    "rule-suppress-false-only": rules({"name": "r", "suppress": False}),
    "rule-tag-true": rules({"name": "r", "tag": True}),
    "rule-tag-empty-list": rules({"name": "r", "tag": []}),
    "rule-tag-blank": rules({"name": "r", "tag": " "}),
    "rule-digest-true": rules({"name": "r", "digest": True}),
    "rule-digest-empty-name": rules({"name": "r", "digest": ""}),
    "rule-continue-not-a-boolean": rules({"name": "r", "notify": True, "continue": 1}),
    "rule-description-not-text": rules({"name": "r", "notify": True, "description": 3}),
    "rule-when-null-condition": rules({"name": "r", "when": {"source": None}, "notify": True}),
    "rule-when-empty-any": rules({"name": "r", "when": {"any": []}, "notify": True}),
    "rule-when-not-a-list": rules(
        {"name": "r", "when": {"not": [{"source": "x"}]}, "notify": True}
    ),
    "rule-regex-empty": rules({"name": "r", "when": {"regex": ""}, "notify": True}),
    "rule-regex-field-and-fields": rules(
        {
            "name": "r",
            "when": {"regex": {"pattern": "x", "field": "title", "fields": ["url"]}},
            "notify": True,
        }
    ),
    "rule-keywords-field-details-without-key": rules(
        {"name": "r", "when": {"keywords": {"terms": ["x"], "fields": ["details"]}}, "notify": True}
    ),
    "rule-keywords-word-as-text": rules(
        {"name": "r", "when": {"keywords": {"terms": ["x"], "word": "yes"}}, "notify": True}
    ),
    "rule-set-all-empty": rules({"name": "r", "when": {"labels": {"any": []}}, "notify": True}),
    "rule-priority-list-with-a-typo": rules(
        {"name": "r", "when": {"priority": ["high", "hgh"]}, "notify": True}
    ),
    "rule-aggregate-window-zero": rules({"name": "r", "aggregate": {"window_minutes": 0}}),
    "rule-tag-priority-typo": rules({"name": "r", "tag": {"tags": ["a"], "priority": "urgent"}}),
    "rules-not-a-list": {R: {"name": "r", "notify": True}},
    "rule-triage-without-a-digest": rules({"name": "r", "notify": True, "triage": {}}),
    "rule-triage-threshold-typo": {
        **rules({"name": "r", "notify": True, "digest": "d", "triage": {"instant": 0.9}}),
        "digests": {"d": {"cron": "0 9 * * *"}},
    },
    # the rest of the config
    "top-level-typo": {"watch_keyword": ["typo"]},
    "interval-too-short": {"version": 1, "sources": {"github": {"repos": ["a/b"], "interval_seconds": 5}}},
    "source-key-typo": {"sources": {"github": {"repos": ["a/b"], "tokn_env": "X"}}},
    "huggingface-without-orgs": {"sources": {"huggingface": {"token_env": "HF_TOKEN"}}},
    "welink-eleven-accounts": {"notify": {"welink": {"at_accounts": [f"u{i}" for i in range(11)]}}},
    "cursor-policy-typo": {"delivery": {"cursor_policy": "lax"}},
    "channel-key-typo": {"channels": {"team": {"url": ["json://127.0.0.1/x"]}}},
}

# Checks JSON Schema cannot state: (why) -> the examples that show them.
LOADER_ONLY: dict[str, str] = {
    "test_rules_errors:backreference": "RE2 syntax is known only to RE2",
    "test_rules_errors:lookbehind": "RE2 syntax is known only to RE2",
    "test_rules_errors:unbalanced-parenthesis-in-nested-any": "RE2 syntax",
    "test_rules_errors:aggregate-without-a-window": "the default window is another section's",
    "test_rules_errors:about-a-topic-of-stop-words-only": "which words are stop words (a validator)",
    "rule-duplicate-name": "names must be unique across the list",
    "rule-named-watch_keywords": "the name is taken only while watch_keywords is set",
    "digest-unknown-channel": "a channel name must be one configured elsewhere",
    "cron-out-of-range": "cron syntax",
    "timezone-unknown": "the time-zone database",
    "channel-url-env-bad-name": "an environment variable's name (a validator)",
    "both-databases": "sqlite_path and url are exclusive (a model validator)",
    "rule-triage-digest-below-above-instant-at": "the two thresholds' order (a model validator)",
    "fixtures/rules/lint_findings.yaml": "a digest names a channel that is not configured",
}
INVALID |= {
    "rule-duplicate-name": rules({"name": "ok", "suppress": True}),
    "rule-named-watch_keywords": {
        "watch_keywords": ["x"],
        R: [{"name": "watch_keywords", "notify": True}],
    },
    "digest-unknown-channel": {"digests": {"d": {"cron": "0 9 * * *", "channels": ["nope"]}}},
    "cron-out-of-range": {"sources": {"github": {"repos": ["a/b"], "cron": "61 * * * *"}}},
    "timezone-unknown": {"sources": {"github": {"repos": ["a/b"], "timezone": "Mars/Base"}}},
    "channel-url-env-bad-name": {"channels": {"x": {"url_env": "not a name"}}},
    "both-databases": {"state": {"sqlite_path": "a.db", "url": "postgresql://h/db"}},
    "rule-triage-digest-below-above-instant-at": {
        **rules({"name": "r", "notify": True, "digest": "d",
                 "triage": {"instant_at": 0.3, "digest_below": 0.6}}),
        "digests": {"d": {"cron": "0 9 * * *"}},
    },
    "fixtures/rules/lint_findings.yaml": _file(FIXTURES / "rules" / "lint_findings.yaml"),
    "fixtures/docs/wrong-config.toml": _file(FIXTURES / "docs" / "wrong-config.toml"),
}


def loader_refusal(data: dict[str, Any]) -> str | None:
    """None when `mrt check` and the worker accept the config, else the loader's message."""
    try:
        compile_rules(config_from_dict(data, file="example"))
    except MrtError as exc:
        return str(exc)
    return None


def schema_refusal(data: dict[str, Any]) -> str | None:
    errors = sorted(VALIDATOR.iter_errors(data), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    best = jsonschema.exceptions.best_match(errors)
    return f"{'.'.join(map(str, best.absolute_path))}: {best.message}"


VALID = valid_examples()


def test_the_corpus_is_broad() -> None:
    assert len(VALID) >= 60 and len(INVALID) >= 50
    assert set(LOADER_ONLY) <= set(INVALID)


@pytest.mark.parametrize("name", sorted(VALID))
def test_a_valid_example_passes_both(name: str) -> None:
    data = VALID[name]
    assert (schema_refusal(data), loader_refusal(data)) == (None, None)


@pytest.mark.parametrize("name", sorted(INVALID))
def test_an_invalid_example_fails_both(name: str) -> None:
    data = INVALID[name]
    loader, schema = loader_refusal(data), schema_refusal(data)
    assert loader is not None, f"{name}: the loader accepts it (schema: {schema})"
    if name in LOADER_ONLY:
        assert schema is None, (
            f"{name}: the schema now refuses it ({schema}): drop it from LOADER_ONLY"
        )
    else:
        assert schema is not None, f"{name}: the schema accepts what the loader refuses: {loader}"

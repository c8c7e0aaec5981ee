"""Rule semantics pinned by data: tests/fixtures/rules/cases.yaml, one test per case."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mrt.config import Config
from mrt.events import TrackerEvent
from mrt.rules import compile_rules

CASES_FILE = Path(__file__).parent / "fixtures" / "rules" / "cases.yaml"
TABLE: dict[str, Any] = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))


def build_config(overrides: dict[str, Any]) -> Config:
    return Config.model_validate({**TABLE["base_config"], **overrides})


def build_event(overrides: dict[str, Any]) -> TrackerEvent:
    fields = {**TABLE["base_event"], **overrides}
    fields["labels"] = tuple(fields.get("labels", ()))
    return TrackerEvent(**fields)


@pytest.mark.parametrize("case", TABLE["cases"], ids=[c["id"] for c in TABLE["cases"]])
def test_rule_case(case: dict[str, Any]) -> None:
    ruleset = compile_rules(build_config(case.get("config", {})))
    decision = ruleset.evaluate(build_event(case.get("event", {})))
    expect = case["expect"]

    assert decision.action == expect["action"]
    if "channels" in expect:
        assert list(decision.channels) == expect["channels"]
    if "matched" in expect:
        assert [m.rule for m in decision.matched] == expect["matched"]
    if "tags" in expect:
        assert list(decision.tags) == expect["tags"]
    for key in (
        "priority",
        "group_key",
        "window_minutes",
        "digest",
        "template",
        "decided_by",
        "nearest",
    ):
        if key in expect:
            assert getattr(decision, key) == expect[key], key
    for rule, reasons in expect.get("reasons", {}).items():
        by_rule = {m.rule: list(m.reasons) for m in decision.matched}
        assert by_rule.get(rule) == reasons


def test_every_case_has_a_unique_id() -> None:
    ids = [c["id"] for c in TABLE["cases"]]
    assert len(ids) == len(set(ids))

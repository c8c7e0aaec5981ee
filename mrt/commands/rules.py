"""`mrt rules lint`, `mrt rules test` and `mrt rules suggest`: check a rule set, try it on
stored events, and learn keywords from what a rule matched."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import peewee

from mrt.ai.suggest import suggest
from mrt.commands._output import add_json_option, emit, wants_json
from mrt.config import Config, load_config
from mrt.errors import ConfigError, StoreError
from mrt.events import utcnow
from mrt.inert import inert_text, terminal_json
from mrt.rules import compile_rules
from mrt.rules.dryrun import format_report, run_rules_test, stored_events
from mrt.rules.fields import did_you_mean
from mrt.rules.lint import lint_rules
from mrt.store.db import DEFAULT_BUSY_TIMEOUT_MS, open_database
from mrt.store.views.ai import rule_match_texts
from mrt.store.views.rules import decided_events_since
from mrt.timeparse import parse_since


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("rules", help="check the alert rules and try them on history")
    actions = parser.add_subparsers(dest="rules_action", metavar="ACTION")

    lint = actions.add_parser(
        "lint",
        parents=[common],
        help="report invalid, unreachable or contradictory rules (exit 1 when any)",
    )
    add_json_option(lint)
    lint.set_defaults(func=lint_command)

    test = actions.add_parser(
        "test",
        parents=[common],
        help="run the rules over stored events without sending; show hits and differences",
    )
    test.add_argument("--since", default="30d", help="a span (30d, 12h, 2w) or a date; default 30d")
    test.add_argument("--db", metavar="PATH", help="the database (default: the config's state)")
    test.add_argument("--samples", type=int, default=5, help="samples per rule (default 5)")
    test.add_argument("--json", action="store_true", help="print the report as JSON")
    test.set_defaults(func=test_command)

    suggest = actions.add_parser(
        "suggest",
        parents=[common],
        help="propose keywords for a rule from the events it matched (TF-IDF, no model)",
    )
    suggest.add_argument("rule", help="the rule's name")
    suggest.add_argument("--since", default="90d", help="a span (90d, 2w) or a date; default 90d")
    suggest.add_argument("--db", metavar="PATH", help="the database (default: the config's state)")
    suggest.add_argument("--top", type=int, default=10, help="how many words (default 10)")
    add_json_option(suggest)
    suggest.set_defaults(func=suggest_command)

    parser.set_defaults(func=lambda args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def load_config_for(args: argparse.Namespace) -> Config:
    return load_config(args.config)


def lint_command(args: argparse.Namespace) -> int:
    config = load_config_for(args)
    findings = lint_rules(config)
    if wants_json(args):
        emit({"rules": len(config.rules),
              "findings": [{"rule": f.rule, "code": f.code, "message": f.message}
                           for f in findings]})
        return 1 if findings else 0
    for finding in findings:
        print(finding)
    if not findings:
        count = len(config.rules)  # v0's watch_keywords are one of them once loaded
        print(f"{count} rules, no findings")
    return 1 if findings else 0


def test_command(args: argparse.Namespace) -> int:
    config = load_config_for(args)
    ruleset = compile_rules(config)
    now = utcnow()
    since = parse_since(args.since, now=now)
    target = args.db or config.state.url or config.state.sqlite_path
    if not target:
        raise ConfigError("no database: give --db PATH or set state.sqlite_path in the config")
    with open_existing_database(target, busy_timeout_ms=config.state.busy_timeout_ms):
        stored = stored_events(decided_events_since(since))
        report = run_rules_test(ruleset, stored, since=since, now=now, samples=args.samples)
    if args.json:
        print(terminal_json(report.as_json(), indent=2))
    else:
        print(format_report(report))
    return 0


def suggest_command(args: argparse.Namespace) -> int:
    """Words the rule's past matches share and the other stored events rarely say."""
    config = load_config_for(args)
    ruleset = compile_rules(config)
    rule = next((r for r in ruleset.rules if r.name == args.rule), None)
    if rule is None:
        names = [r.name for r in ruleset.rules]
        raise ConfigError(
            f"no rule named {args.rule!r}{did_you_mean(args.rule, names)}; "
            f"rules: {', '.join(names) or '(none)'}"
        )
    now = utcnow()
    since = parse_since(args.since, now=now)
    target = args.db or config.state.url or config.state.sqlite_path
    if not target:
        raise ConfigError("no database: give --db PATH or set state.sqlite_path in the config")
    with open_existing_database(target, busy_timeout_ms=config.state.busy_timeout_ms):
        matched, other = rule_match_texts(rule.name, since)
    known = [json.dumps(rule.condition.canonical(), ensure_ascii=False)]
    found = suggest(matched, other, known=known, top=args.top)
    if wants_json(args):
        emit({"rule": rule.name, "since": since.isoformat(), "matched": len(matched),
              "other": len(other), "suggestions": [s.as_json() for s in found]})
        return 0
    if not matched:
        print(f"rule {inert_text(rule.name)}: no stored event matched it since "
              f"{since:%Y-%m-%d}: nothing to learn from")
        return 0
    print(f"rule {inert_text(rule.name)}: {len(matched)} matched, {len(other)} other event(s) "
          f"since {since:%Y-%m-%d}")
    if not found:
        print("no word sets its matches apart from the other events")
    for item in found:
        print(f"  {inert_text(item.word):<24} score {item.score:.3f}  in {item.matched} matched, "
              f"{item.other} other")
    return 0


@contextmanager
def open_existing_database(
    target: str, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS
) -> Iterator[peewee.Database]:
    """Open a database read-only, refusing to create one where there is none."""
    is_url = target.startswith(("postgresql://", "postgres://"))
    if not is_url and not Path(target).expanduser().is_file():
        raise StoreError(f"no database at {target}")
    db = open_database(target, read_only=True, busy_timeout_ms=busy_timeout_ms)
    try:
        if not db.table_exists("event"):
            raise StoreError(f"{target} has no events table: is it an MRT database?")
        yield db
    finally:
        db.close()

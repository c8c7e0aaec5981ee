"""From the config's rule dicts to compiled rules, with errors that say exactly where.

A rule (YAML shown; JSON and TOML have the same shape):

    - name: deepseek-prs
      when:                         # a mapping: every key must hold (an implicit `all`)
        keywords: [deepseek]
        event_type: [pr_merged]
      notify: {channels: [welink], priority: high}
      continue: false
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import re2

from mrt.ai.lexical import LexicalTopic
from mrt.config import AggregationConfig, RuleConfig
from mrt.errors import ConfigError
from mrt.rules.about import AboutCondition
from mrt.rules.combinators import AllCondition, AnyCondition, NotCondition
from mrt.rules.conditions import (
    AuthorsCondition,
    Condition,
    GlobCondition,
    KeywordsCondition,
    PriorityCondition,
    RegexCondition,
    SetCondition,
    TagSetCondition,
    ValueInCondition,
)
from mrt.rules.fields import PRIORITIES, check_field_name, did_you_mean
from mrt.rules.model import (  # the keys come from the models that are the rules' JSON Schema
    ACTION_KEYS,
    DEFAULT_KEYWORD_FIELDS,
    RULE_KEYS,
    AboutSpec,
    Aggregate,
    AggregateSpec,
    AuthorsSpec,
    CompiledRule,
    DigestSpec,
    KeywordsSpec,
    NotifySpec,
    RegexSpec,
    SetSpec,
    TagSpec,
    validate_spec,
)
from mrt.rules.model import CONDITION_KEYS as CONDITION_KEYS  # mrt silence's --match keys
from mrt.rules.patterns import compile_globs, re2_options
from mrt.rules.triage_action import parse_triage
from mrt.templating import read_template, template_path, template_problem

_VALUE_FIELDS = ("source", "resource_type", "event_type")
_GLOB_FIELDS = ("source_key", "resource_id")


@dataclass(frozen=True)
class ParseContext:
    file: str | None
    aggregation: AggregationConfig

    def error(self, message: str, path: str) -> ConfigError:
        return ConfigError(message, file=self.file, path=path)


def compile_pattern(pattern: str, *, ignore_case: bool, path: str, ctx: ParseContext) -> Any:
    """An RE2 program, or a ConfigError that says what RE2 cannot do and what to write instead."""
    options = re2_options()
    options.case_sensitive = not ignore_case
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        detail = detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)
        hint = "check the RE2 syntax: https://github.com/google/re2/wiki/Syntax"
        if any(look in pattern for look in ("(?=", "(?!", "(?<=", "(?<!")):
            hint = (
                "RE2 has no lookahead or lookbehind; match the text itself and exclude "
                "what you do not want with a `not:` condition"
            )
        elif any(f"\\{d}" in pattern for d in "123456789"):
            hint = "RE2 has no backreferences (\\1); spell the repeated text out"
        raise ctx.error(f"invalid regular expression {pattern!r}: {detail}; {hint}", path) from None


def _strings(value: Any, path: str, ctx: ParseContext, what: str) -> tuple[str, ...]:
    """A string or a non-empty list of non-blank strings."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise ctx.error(
            f"expected {what} or a non-empty list of them, found {type(value).__name__} {value!r}",
            path,
        )
    for i, item in enumerate(items):
        if not isinstance(item, str) or not item.strip():
            raise ctx.error(
                f"expected {what}, found {type(item).__name__} {item!r}", f"{path}[{i}]"
            )
    return tuple(items)


def _fields(names: list[str], path: str) -> tuple[str, ...]:
    return tuple(check_field_name(n, f"{path}[{i}]") for i, n in enumerate(names))


def _keywords(value: Any, path: str, ctx: ParseContext) -> Condition:
    if isinstance(value, str | list):
        value = {"terms": list(_strings(value, path, ctx, "a keyword"))}
    spec = validate_spec(KeywordsSpec, value, path, ctx.file)
    terms = _strings(spec.terms, f"{path}.terms", ctx, "a keyword")
    return KeywordsCondition(terms, _fields(spec.fields, f"{path}.fields"), spec.word)


def _regex(value: Any, path: str, ctx: ParseContext) -> Condition:
    if isinstance(value, str):
        value = {"pattern": value}
    spec = validate_spec(RegexSpec, value, path, ctx.file)
    if spec.field is not None and spec.fields is not None:
        raise ctx.error("give either `field` or `fields`, not both", path)
    fields: tuple[str, ...]
    if spec.field is not None:
        fields = (check_field_name(spec.field, f"{path}.field"),)
    elif spec.fields is not None:
        fields = _fields(spec.fields, f"{path}.fields")
    else:
        fields = DEFAULT_KEYWORD_FIELDS
    compiled = compile_pattern(
        spec.pattern, ignore_case=spec.ignore_case, path=f"{path}.pattern", ctx=ctx
    )
    return RegexCondition(spec.pattern, compiled, fields, spec.ignore_case)


def _about(value: Any, path: str, ctx: ParseContext) -> Condition:
    where = path if isinstance(value, str) else f"{path}.topic"
    if isinstance(value, str):
        value = {"topic": value}
    spec = validate_spec(AboutSpec, value, path, ctx.file)
    if not LexicalTopic.compile(spec.topic).weights:
        raise ctx.error(
            f"the topic {spec.topic!r} has no words to compare (only stop words or "
            "punctuation): describe it, e.g. 'new model weights from DeepSeek or Qwen'",
            where,
        )
    return AboutCondition(
        spec.topic, spec.threshold, _fields(spec.fields, f"{path}.fields"),
        spec.embedding_threshold,
    )


def _value_in(field: str) -> Callable[[Any, str, ParseContext], Condition]:
    def parse(value: Any, path: str, ctx: ParseContext) -> Condition:
        return ValueInCondition(field, _strings(value, path, ctx, f"a {field} name"))

    return parse


def _glob(field: str) -> Callable[[Any, str, ParseContext], Condition]:
    def parse(value: Any, path: str, ctx: ParseContext) -> Condition:
        patterns = _strings(value, path, ctx, "a glob string such as 'github:vllm-project/*'")
        return GlobCondition(field, patterns, compile_globs(patterns))

    return parse


def _authors(value: Any, path: str, ctx: ParseContext) -> Condition:
    if isinstance(value, str | list):
        value = {"allow": list(_strings(value, path, ctx, "an author name or glob"))}
    spec = validate_spec(AuthorsSpec, value, path, ctx.file)
    if not spec.allow and not spec.block:
        raise ctx.error("give an `allow` list, a `block` list, or both", path)
    allow = _strings(spec.allow, f"{path}.allow", ctx, "an author") if spec.allow else ()
    block = _strings(spec.block, f"{path}.block", ctx, "an author") if spec.block else ()
    return AuthorsCondition(allow, block)


def _set(what: str) -> Callable[[Any, str, ParseContext], Condition]:
    def parse(value: Any, path: str, ctx: ParseContext) -> Condition:
        if isinstance(value, str | list):
            value = {"any": list(_strings(value, path, ctx, f"a {what}"))}
        spec = validate_spec(SetSpec, value, path, ctx.file)
        if not (spec.any or spec.all or spec.none):
            raise ctx.error("give at least one of `any`, `all`, `none`", path)
        parts = {}
        for key in ("any", "all", "none"):
            items = getattr(spec, key)
            parts[key] = _strings(items, f"{path}.{key}", ctx, f"a {what}") if items else ()
        if what == "tag":
            return TagSetCondition(parts["any"], parts["all"], parts["none"])
        return SetCondition(what, parts["any"], parts["all"], parts["none"])

    return parse


def _priority(value: Any, path: str, ctx: ParseContext) -> Condition:
    values = _strings(value, path, ctx, "a priority")
    for i, item in enumerate(values):
        if item not in PRIORITIES:
            raise ctx.error(
                f"unknown priority {item!r}{did_you_mean(item, PRIORITIES)}; "
                f"expected one of {', '.join(PRIORITIES)}",
                f"{path}[{i}]" if isinstance(value, list) else path,
            )
    return PriorityCondition(values)


def _children(value: Any, path: str, ctx: ParseContext, key: str) -> tuple[Condition, ...]:
    if not isinstance(value, list) or not value:
        raise ctx.error(
            f"`{key}` takes a non-empty list of conditions, found {type(value).__name__} {value!r}",
            path,
        )
    return tuple(parse_condition(item, f"{path}[{i}]", ctx) for i, item in enumerate(value))


_LEAVES: dict[str, Callable[[Any, str, ParseContext], Condition]] = {
    "keywords": _keywords,
    "regex": _regex,
    "about": _about,
    **{f: _value_in(f) for f in _VALUE_FIELDS},
    **{f: _glob(f) for f in _GLOB_FIELDS},
    "authors": _authors,
    "labels": _set("label"),
    "tags": _set("tag"),
    "priority": _priority,
}


def parse_condition(value: Any, path: str, ctx: ParseContext) -> Condition:
    """A mapping of condition keys; several keys must all hold."""
    if not isinstance(value, dict):
        raise ctx.error(
            f"expected a mapping of conditions ({', '.join(CONDITION_KEYS)}), "
            f"found {type(value).__name__} {value!r}"
            + (
                "; to combine several, use `all: [...]` or `any: [...]`"
                if isinstance(value, list)
                else ""
            ),
            path,
        )
    parts: list[Condition] = []
    for key, item in value.items():
        where = f"{path}.{key}"
        if key == "all":
            parts.append(AllCondition(_children(item, where, ctx, key)))
        elif key == "any":
            parts.append(AnyCondition(_children(item, where, ctx, key)))
        elif key == "not":
            parts.append(NotCondition(parse_condition(item, where, ctx)))
        elif key in _LEAVES:
            parts.append(_LEAVES[key](item, where, ctx))
        else:
            raise ctx.error(
                f"unknown condition {key!r}{did_you_mean(str(key), CONDITION_KEYS)}; "
                f"expected one of {', '.join(CONDITION_KEYS)}",
                path,
            )
    return parts[0] if len(parts) == 1 else AllCondition(tuple(parts))  # {}: matches all


def _flag(value: Any, path: str, ctx: ParseContext) -> bool:
    if not isinstance(value, bool):
        raise ctx.error(f"expected true or false, found {type(value).__name__} {value!r}", path)
    return value


def _aggregate(value: Any, path: str, ctx: ParseContext) -> Aggregate:
    spec = validate_spec(AggregateSpec, {} if value is True else value, path, ctx.file)
    window = spec.window_minutes or ctx.aggregation.window_minutes
    if not window:
        raise ctx.error("needs `window_minutes` (or a default in aggregation.window_minutes)", path)
    if spec.group_by is None:
        group_by = tuple(ctx.aggregation.group_by)
    else:
        group_by = tuple(
            _group_part(g, f"{path}.group_by[{i}]", ctx) for i, g in enumerate(spec.group_by)
        )
    return Aggregate(window, group_by)


def _group_part(name: str, path: str, ctx: ParseContext) -> str:
    """An event field, `tags` (every tag), or `tag:NAME` (the tags NAME and NAME:value)."""
    if name == "tags":
        return name
    if name.startswith("tag:"):
        if not name[4:].strip():
            raise ctx.error(f"{name!r} names no tag; write e.g. 'tag:project'", path)
        return name
    return check_field_name(name, path)


def _check_template(spec: str, path: str, ctx: ParseContext) -> None:
    """A rule's template must be readable and compile at load, not fail at its first send."""
    try:
        source, template_file = read_template(spec, ctx.file)
    except UnicodeDecodeError:
        shown = template_path(spec, ctx.file)
        raise ctx.error(f"template {shown} is not UTF-8 text", path) from None
    except OSError as exc:
        shown = template_path(spec, ctx.file)
        why = exc.strerror or exc.__class__.__name__
        raise ctx.error(f"cannot read template {shown}: {why}", path) from None
    problem = template_problem(source)
    if problem is not None:
        raise ctx.error(f"{template_file}, {problem}" if template_file else problem, path)


def parse_rule(rule: RuleConfig, index: int, ctx: ParseContext) -> CompiledRule:
    raw: dict[str, Any] = {"name": rule.name, **(rule.model_extra or {})}
    name = rule.name
    # the rule v0's watch_keywords became (mrt.config) reports under its own name
    path = rule.origin if rule.origin != "rules" else f"rules[{index}] ({name})"
    if not name.strip():
        raise ctx.error("a rule needs a non-blank name", f"rules[{index}].name")
    for key in raw:
        if key not in RULE_KEYS:
            hint = did_you_mean(key, RULE_KEYS)
            if not hint and key in CONDITION_KEYS:
                hint = f" (conditions go under `when:`, e.g. `when: {{{key}: ...}}`)"
            raise ctx.error(f"unknown key {key!r}{hint}; expected {', '.join(RULE_KEYS)}", path)
    if not any(raw.get(k) not in (None, False) for k in ACTION_KEYS):
        raise ctx.error(f"the rule does nothing: give one of {', '.join(ACTION_KEYS)}", path)
    if "description" in raw and not isinstance(raw["description"], str):
        raise ctx.error("expected text", f"{path}.description")

    when = raw.get("when")
    condition = AllCondition(()) if when is None else parse_condition(when, f"{path}.when", ctx)

    notify_value = raw.get("notify")
    notify: NotifySpec | None = None
    if notify_value is True:
        notify = NotifySpec()
    elif isinstance(notify_value, list):
        notify = validate_spec(NotifySpec, {"channels": notify_value}, f"{path}.notify", ctx.file)
    elif notify_value not in (None, False):
        notify = validate_spec(NotifySpec, notify_value, f"{path}.notify", ctx.file)
    if notify is not None and notify.template is not None:
        _check_template(notify.template, f"{path}.notify.template", ctx)

    aggregate_value = raw.get("aggregate")
    aggregate = (
        None
        if aggregate_value in (None, False)
        else _aggregate(aggregate_value, f"{path}.aggregate", ctx)
    )
    digest_value = raw.get("digest")
    digest: str | None = None
    if digest_value not in (None, False):
        value = {"name": digest_value} if isinstance(digest_value, str) else digest_value
        digest = validate_spec(DigestSpec, value, f"{path}.digest", ctx.file).name
    if aggregate is not None and digest is not None:
        raise ctx.error(
            "a rule either aggregates or goes to a digest, not both; split it into two rules",
            path,
        )

    tag_value = raw.get("tag")
    tags: tuple[str, ...] = ()
    tag_priority: str | None = None
    if tag_value not in (None, False):
        if isinstance(tag_value, str | list):
            tags = _strings(tag_value, f"{path}.tag", ctx, "a tag")
        else:
            spec = validate_spec(TagSpec, tag_value, f"{path}.tag", ctx.file)
            tags = _strings(spec.tags, f"{path}.tag.tags", ctx, "a tag")
            tag_priority = spec.priority

    triage = parse_triage(raw.get("triage"), path, ctx, notify, digest)
    suppress = _flag(raw.get("suppress", False), f"{path}.suppress", ctx)
    continue_ = _flag(raw.get("continue", False), f"{path}.continue", ctx)
    return CompiledRule(
        name=name,
        index=index,
        path=path,
        condition=condition,
        has_conditions=bool(when),
        notify=notify,
        suppress=suppress,
        aggregate=aggregate,
        digest=digest,
        tags=tags,
        priority=(notify.priority if notify and notify.priority else tag_priority),
        continue_=continue_,
        origin=rule.origin,
        triage=triage,
    )

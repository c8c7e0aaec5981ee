"""Message text: one or several events and why they matched -> a Message for one channel.

    render_message(config, channel, events, decision) -> Message      (TemplateError on a bad one)
    AlertText(config, events, decision).message(channel)               the same, for each channel
                                                                       of one alert (cleans once)

Default templates (templates/*.j2) per channel kind: "chat" (a short text that reads well on a
phone: what happened, where, the title, why it matched, the link last) and "email" (a subject
line and a fuller body). A channel overrides them with `template` / `title_template`: Jinja2
source, or `file:path` relative to the config file. A rule's `notify.template` (same forms)
overrides the body of that rule's messages on every channel; the rules checked it at load.

Templates are the operator's; upstream text is data. Templates run in Jinja2's immutable
sandbox with StrictUndefined, and every upstream field is cleaned (sanitize.py) before it enters
the context, where it is only ever a value: `{{ 7*7 }}` in an issue title stays those characters.

Context: `events` (list), `event` (the first), `shown` (those listed), `more` (how many not
listed), `count`, `where`, `rules` ([{name, reasons}]), `why` (one line), `priority`, `tags`,
`channel`. Each event: what, where, platform, title, summary, url, author, labels, event_type,
resource_type, resource_id, source, source_key, occurred_at (ISO 8601), details (every detail
the source recorded), facts ([{label, value}]: the details its EVENT_DETAILS names for this event
type), facts_line (those as one "Label: value · Label: value" line of at most 160 characters)
and ai_summary (a model's summary of the event when AI summaries are on, cleaned like upstream
text and signed with the model's name; "" otherwise: see mrt/ai_hooks.py).
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from mrt.config import ChannelConfig, Config
from mrt.delivery.base import Message
from mrt.delivery.sanitize import clean_line, clean_text, clean_url, fit_text
from mrt.errors import TemplateError
from mrt.events import AI_SUMMARY, TrackerEvent
from mrt.plugins import detail_facts, display_name, event_words
from mrt.rules import Decision
from mrt.templating import read_template, sandbox, template_path

MAX_LISTED = 10
CHAT_MAX_LENGTH = 500  # WeLink's limit; the tightest robot, and about a phone screen
EMAIL_SCHEMES = ("mailto://", "mailtos://")
# The details key mrt.ai_hooks puts a model's summary under, on its own copy of the event (a
# dotted name no source uses); shown as `ai_summary`, never among `details`.


def describe_event_type(event_type: str, source: str = "") -> str:
    """The source plugin's wording of the event type (its EVENT_WORDS), else the type itself."""
    words = event_words(source, event_type) if source else None
    return words or event_type.replace("_", " ").strip().capitalize()


def channel_kind(config: Config, channel: str) -> str:
    """ "email" when every URL of the channel is a mailto; "chat" for everything else."""
    section = config.channels.get(channel)
    if section is not None and section.smtp is not None:
        return "email"
    if (
        section is not None
        and section.urls
        and not section.url_env
        and all(u.lower().startswith(EMAIL_SCHEMES) for u in section.urls)
    ):
        return "email"
    return "chat"


def _clean_detail(value: Any, depth: int = 0) -> Any:
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, str):
        return clean_line(value)
    if depth < 3 and isinstance(value, dict):
        return {clean_line(k, max_chars=80): _clean_detail(v, depth + 1) for k, v in value.items()}
    if depth < 3 and isinstance(value, list | tuple):
        return [_clean_detail(v, depth + 1) for v in value[:50]]
    return clean_line(str(value))


FACTS_LINE_MAX = 160  # one line of "Label: value · ..." in a chat message


def event_facts(event: TrackerEvent) -> list[dict[str, str]]:
    """The details the source names for this event type, as cleaned {label, value} pairs."""
    facts = [
        {"label": clean_line(label, max_chars=40), "value": clean_line(value, max_chars=100)}
        for label, value in detail_facts(event.source, event.event_type, event.details)
    ]
    return [f for f in facts if f["label"] and f["value"]]  # nothing left once cleaned: no line


def event_context(event: TrackerEvent) -> dict[str, Any]:
    """One event as template data: every upstream field cleaned, nothing left raw."""
    platform = display_name(event.source)
    facts = event_facts(event)
    ai_summary = event.details.get(AI_SUMMARY)
    details = {k: v for k, v in event.details.items() if k != AI_SUMMARY}
    scope = event.source_key.partition(":")[2] or event.resource_id
    return {
        "what": describe_event_type(event.event_type, event.source),
        "where": clean_line(f"{scope} on {platform}" if scope else platform),
        "platform": platform,
        "title": clean_line(event.title) or clean_line(event.resource_id),
        "summary": clean_text(event.summary, max_chars=600),
        "url": clean_url(event.url),
        "author": clean_line(event.author, max_chars=80),
        "labels": [clean_line(label, max_chars=60) for label in event.labels[:20]],
        "event_type": clean_line(event.event_type, max_chars=60),
        "resource_type": clean_line(event.resource_type, max_chars=60),
        "resource_id": clean_line(event.resource_id),
        "source": clean_line(event.source, max_chars=60),
        "source_key": clean_line(event.source_key),
        "occurred_at": event.occurred_at.isoformat() if event.occurred_at else "",
        "details": _clean_detail(details),
        "ai_summary": clean_text(ai_summary, max_chars=600) if isinstance(ai_summary, str) else "",
        "facts": facts,
        "facts_line": fit_text(
            " · ".join(f"{f['label']}: {f['value']}" for f in facts), FACTS_LINE_MAX,
            keep_link=False,
        ) if facts else "",
    }


def build_context(
    channel: str,
    events: Sequence[TrackerEvent],
    decision: Decision,
    listed: int,
    items: Sequence[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The template context for `channel`; `items` are the events' contexts when already built
    (an alert to several channels cleans each event once: see AlertText)."""
    items = [event_context(e) for e in events] if items is None else items
    places = list(dict.fromkeys(i["where"] for i in items))
    rules = [
        {"name": clean_line(m.rule, max_chars=80), "reasons": [clean_line(r) for r in m.reasons]}
        for m in decision.matched
    ]
    why = " | ".join(f"{r['name']}: {'; '.join(r['reasons'])}" for r in rules)
    return {
        "channel": channel,
        "events": items,
        "event": items[0],
        "shown": items[:listed],
        "more": max(0, len(items) - listed),
        "count": len(items),
        "where": places[0] if len(places) == 1 else f"{len(places)} places",
        "rules": rules,
        "why": why,
        "priority": decision.priority,
        "tags": [clean_line(t, max_chars=60) for t in decision.tags],
    }


@functools.lru_cache(maxsize=8)
def _default_source(name: str) -> str:
    return resources.files("mrt.delivery").joinpath("templates", name).read_text("utf-8")


def _template_source(config: Config, channel: str, spec: str, field: str) -> tuple[str, str]:
    """(source, name for messages) of a channel's template: inline, or `file:relative/path`."""
    if not spec.startswith("file:"):
        return spec, f"channels.{channel}.{field}"
    base = config.source_path.parent if config.source_path else Path.cwd()
    path = (base / spec[5:].strip()).resolve()
    try:
        return path.read_text("utf-8"), str(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(
            f"channel {channel!r}: cannot read template {path}: {exc.__class__.__name__}: {exc}"
        ) from None


def _rule_template(config: Config, channel: str, spec: str) -> tuple[str, str]:
    """(source, name for messages) of a rule's notify.template. The rules checked it at load;
    reading it again here can only fail if the file went away since."""
    field = next(
        (
            f"rules[{i}] ({rule.name}).notify.template"
            for i, rule in enumerate(config.rules)
            if isinstance(notify := (rule.model_extra or {}).get("notify"), dict)
            and notify.get("template") == spec
        ),
        "rules.notify.template",
    )
    try:
        source, path = read_template(spec, config.source_path)
    except (OSError, UnicodeDecodeError) as exc:
        shown = template_path(spec, config.source_path)
        raise TemplateError(
            f"channel {channel!r}: {field}: cannot read template {shown}: "
            f"{exc.__class__.__name__}: {exc}"
        ) from None
    return source, path or field


def _template_line(exc: BaseException, name: str) -> int | None:
    """The line of template `name` where a render error happened (Jinja rewrites tracebacks)."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return exc.lineno
    line = None
    tb = exc.__traceback__
    while tb is not None:
        # DictLoader templates have no file: Jinja names their frames "<template>".
        if tb.tb_frame.f_code.co_filename in (name, "<template>"):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


@functools.lru_cache(maxsize=64)
def _compiled(name: str, source: str) -> jinja2.Template:
    """Compiling a template costs ~10 ms and every alert of a cycle renders one: compile each
    (name, source) once. A Template is immutable and keeps its sandboxed environment; a
    syntax error raises and is not cached."""
    env = sandbox()
    env.loader = jinja2.DictLoader({name: source})
    return env.get_template(name)


def render_template(channel: str, name: str, source: str, context: dict[str, Any]) -> str:
    """Render one template in the sandbox; TemplateError with the channel and the line."""
    try:
        return _compiled(name, source).render(context).strip()
    except jinja2.TemplateError as exc:
        line = _template_line(exc, name)
        where = f"{name}, line {line}" if line else name
        raise TemplateError(
            f"channel {channel!r}: template {where}: {exc.__class__.__name__}: {exc.message}"
        ) from None
    except (ArithmeticError, TypeError, ValueError, LookupError, AttributeError) as exc:
        line = _template_line(exc, name) or _template_line_from_stack(name)
        where = f"{name}, line {line}" if line else name
        raise TemplateError(
            f"channel {channel!r}: template {where}: {exc.__class__.__name__}: {exc}"
        ) from None


def _template_line_from_stack(name: str) -> int | None:
    info = sys.exc_info()[2]
    line = None
    while info is not None:
        if info.tb_frame.f_code.co_filename in (name, "<template>"):
            line = info.tb_lineno
        info = info.tb_next
    return line


def render_message(
    config: Config, channel: str, events: Sequence[TrackerEvent], decision: Decision
) -> Message:
    """The Message for `channel` about `events` (one, or an aggregate) and `decision`."""
    return AlertText(config, events, decision).message(channel)


class AlertText:
    """The messages of one alert, channel by channel: the events' upstream text is cleaned
    once for the alert, not once per channel (templates get it read-only: the sandbox is
    immutable)."""

    def __init__(
        self, config: Config, events: Sequence[TrackerEvent], decision: Decision
    ) -> None:
        self.config = config
        self.events = events
        self.decision = decision
        self._items: list[dict[str, Any]] | None = None

    def items(self) -> list[dict[str, Any]]:
        if self._items is None:
            self._items = [event_context(e) for e in self.events]
        return self._items

    def message(self, channel: str) -> Message:
        """The Message for `channel` (TemplateError on a bad template)."""
        config, events, decision = self.config, self.events, self.decision
        if not events:
            raise TemplateError(f"channel {channel!r}: nothing to render (no events)")
        kind = channel_kind(config, channel)
        # v0 notify.welink/notify.email have no channel section: defaults everywhere
        section = config.channels.get(channel) or ChannelConfig.model_construct()
        limit = section.max_length or (
            CHAT_MAX_LENGTH if kind == "chat" and channel_is_length_bound(config, channel)
            else None
        )
        if decision.template:  # the rule's template wins over the channel's
            body_source, body_name = _rule_template(config, channel, decision.template)
        elif section.template:
            body_source, body_name = _template_source(
                config, channel, section.template, "template"
            )
        else:
            body_name = "chat.j2" if kind == "chat" else "email_body.j2"
            body_source = _default_source(body_name)
        title_name, title_source = "", ""
        if section.title_template:
            title_source, title_name = _template_source(
                config, channel, section.title_template, "title_template"
            )
        elif kind == "email":
            title_name, title_source = "email_subject.j2", _default_source("email_subject.j2")

        # List as many events as fit (at most MAX_LISTED); "and N more" says what did not.
        listed = min(MAX_LISTED, len(events))
        items = self.items()
        while True:
            context = build_context(channel, events, decision, listed, items)
            body = render_template(channel, body_name, body_source, context)
            if limit is None or len(body) <= limit or listed <= 1:
                break
            listed -= 1
        if limit is not None:
            body = fit_text(body, limit)
        subject = (
            render_template(channel, title_name, title_source, context).replace("\n", " ")
            if title_source
            else ""
        )
        return Message(
            subject=fit_text(subject, 250, keep_link=False) if subject else "",
            body=body or "(empty)",
            url=context["event"]["url"],
            priority=decision.priority,
            extra={"kind": kind, "events": len(events)},
        )


def channel_is_length_bound(config: Config, channel: str) -> bool:
    """Chat channels trim to 500 characters: a WeLink robot (v0's) and any with a welink URL."""
    section = config.channels.get(channel)
    if section is None:
        return False
    if section.welink_robot is not None:
        return True
    return any(u.lower().startswith("welink://") or "/werobot/" in u for u in section.urls)


REPLAY_MARK = "[replay]"


def mark_replay(message: Message) -> Message:
    """A replayed alert's message says so, before anything else (the subject when there is
    one, and the text): a team must never take an old event re-sent for news."""
    subject = f"{REPLAY_MARK} {message.subject}" if message.subject else ""
    return dataclasses.replace(message, subject=subject, body=f"{REPLAY_MARK} {message.body}")

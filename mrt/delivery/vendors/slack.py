"""Slack (`mrt.channels` entry point `slack`): Block Kit, threaded where Slack allows it.

Targets, with Apprise's meaning:
- an incoming webhook: `slack://A/B/C[/#channel...]` or `https://hooks.slack.com/services/A/B/C`
  (a legacy webhook honours the channels; a current one posts to its own). Webhooks cannot
  thread: a follow-up is a new message.
- a bot: `slack://xoxb-TOKEN/#channel[/...]` or `https://slack.com/api/chat.postMessage?
  channel=C123&token=xoxb-TOKEN` (the token goes in the Authorization header, never the query;
  write it as a `${NAME}` placeholder). Web API messages thread: a later alert about the same
  resource (a PR opened, then merged) replies with `thread_ts` = the first message's `ts`,
  kept in the database (mrt/store/vendor_threads.py).
- anything else Apprise reads as Slack (workflows) is sent by Apprise as before.
Options: `at=U123,...` (user ids) and `at_all=yes` (`<!channel>`).

Blocks: a header (plain text, 150 characters), the text as mrkdwn with `& < >` escaped (no link,
mention or command can be written by upstream text), the fields, a button to the link and the
mentions; `text` (the notification) is the title. Slack's answers: a webhook says `ok` or an
error word with a 4xx (invalid_payload, channel_not_found, ...: dead), 429 with Retry-After
(throttled), 5xx (retried); the Web API answers 200 `{"ok": false, "error": ...}`: ratelimited
throttled, the auth/channel/payload errors dead, others retried.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from mrt.config import ChannelConfig
from mrt.delivery import apprise_channel
from mrt.delivery.vendors.common import (
    Card,
    Mentions,
    answer_field,
    bad_target,
    card_of,
    mentions_of,
    query_options,
    remember_thread,
    thread_of,
    vendor_outcome,
    vendor_targets,
    vendor_words,
    with_query,
)
from mrt.delivery.webhook_http import TransportError, WebhookAnswer, post_json, transport_outcome
from mrt.errors import ConfigError
from mrt.message import Message, SendOutcome, Target

KIND = "slack"
HOOKS = "https://hooks.slack.com/services/"
POST_MESSAGE = "https://slack.com/api/chat.postMessage"
MAX_HEADER = 150
MAX_SECTION = 3000
MAX_FIELD = 2000
THROTTLE: dict[str, float | None] = {"ratelimited": None, "rate_limited": None}
DEAD = frozenset({
    "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
    "missing_scope", "channel_not_found", "not_in_channel", "is_archived", "channel_is_archived",
    "invalid_blocks", "invalid_arguments", "invalid_payload", "msg_too_long", "no_text",
    "restricted_action", "action_prohibited", "no_service", "no_service_id", "no_team",
    "team_disabled", "posting_to_general_channel_denied", "user_not_found", "invalid_token",
})
_OPTIONS = ("at", "at_all", "token", "channel")
_ERROR_WORD = re.compile(r"[a-z_]{2,64}")


@dataclass(frozen=True, slots=True)
class Endpoint:
    url: str
    params: dict[str, str]
    channels: tuple[str, ...]  # webhook: legacy channel overrides; bot: where to post
    token: str  # a bot token: the Web API (threads); empty: an incoming webhook
    mentions: Mentions


def endpoint(url: str) -> Endpoint | None:
    """The Slack endpoint of `url`; None for a form only Apprise sends (a workflow)."""
    parts = urlsplit(url)
    options = query_options(url)
    if parts.scheme.lower() == "slack":
        if options.get("mode") or options.get("token"):
            return None  # workflows and token-in-query forms: Apprise's
        first = unquote(parts.hostname or "")
        segments = [unquote(s) for s in parts.path.split("/") if s]
        channels = [*segments, *(f"#{parts.fragment}" if parts.fragment else "").split()]
        channels += [c for c in options.get("to", "").split(",") if c]
        if first.startswith("xo"):
            if not channels:
                raise ConfigError("a Slack bot URL needs a channel (slack://xoxb-TOKEN/#channel)")
            return Endpoint(POST_MESSAGE, {}, tuple(channels), first, mentions_of(url))
        if len(segments) < 2:
            raise ConfigError("expected slack://TOKEN_A/TOKEN_B/TOKEN_C (an incoming webhook)")
        hook = HOOKS + "/".join([first, *segments[:2]])
        return Endpoint(hook, {}, tuple(channels[2:]), "", mentions_of(url))
    base, params = with_query(url, _OPTIONS)
    if parts.path.rstrip("/").endswith("/chat.postMessage"):
        token, channel = options.get("token", ""), options.get("channel", "")
        if not token or not channel:
            raise ConfigError("a Slack Web API URL needs channel= and token= (a bot token)")
        return Endpoint(base, params, (channel,), token, mentions_of(url))
    return Endpoint(base, params, (), "", mentions_of(url))


def escape_mrkdwn(text: str) -> str:
    """Slack's three control characters as entities: `<@U1>`, `<!here>`, `<url|x>` stay text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def render_blocks(card: Card, mentions: Mentions) -> list[dict[str, Any]]:
    title = card.title
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(title, MAX_HEADER)}},
    ]
    if card.text:
        blocks.append({"type": "section", "text": {
            "type": "mrkdwn", "text": _cut(escape_mrkdwn(card.text), MAX_SECTION)}})
    if card.fields:
        blocks.append({"type": "section", "fields": [
            {"type": "mrkdwn", "text": _cut(f"*{escape_mrkdwn(k)}*\n{escape_mrkdwn(v)}", MAX_FIELD)}
            for k, v in card.fields[:10]
        ]})
    if card.link:
        blocks.append({"type": "actions", "elements": [{
            "type": "button", "text": {"type": "plain_text", "text": "Open"}, "url": card.link,
        }]})
    tags = (["<!channel>"] if mentions.all else []) + [f"<@{u}>" for u in mentions.users]
    if tags:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": " ".join(tags)}})
    return blocks


def render(card: Card, mentions: Mentions) -> dict[str, Any]:
    title = card.title
    return {"text": _cut(escape_mrkdwn(title), MAX_SECTION), "blocks": render_blocks(card, mentions)}


def check(url: str) -> object:
    """ConfigError when `url` is no target of this vendor (`mrt check` runs it)."""
    return endpoint(url)


def targets(name: str, channel: ChannelConfig, env: Mapping[str, str]) -> list[Target]:
    return vendor_targets(name, channel, env, kind=KIND, apprise_schemes=("slack",),
                          check=check, public_segments=("chat.postMessage",))


def outcome(target: Target, answer: WebhookAnswer, *, web_api: bool) -> SendOutcome:
    if web_api:
        ok = answer_field(answer, "ok")
        error = answer_field(answer, "error")
        code = None if ok is True else str(error or "not_ok")
        said = vendor_words("ok" if ok is True else error, answer_field(answer, "warning"))
    else:
        said = vendor_words(answer.body.decode("utf-8", "replace"))
        # a webhook's error is one word (invalid_payload); anything else is not a code
        word = _ERROR_WORD.fullmatch(said)
        code = None if 200 <= answer.status < 300 or word is None else said
    return vendor_outcome(target, answer, code, said, throttle=THROTTLE, dead=DEAD)


async def send(target: Target, message: Message, *, timeout: float) -> SendOutcome:
    try:
        where = endpoint(target.url)
    except ConfigError as exc:
        return bad_target(target, exc)
    if where is None:
        return await apprise_channel.send(target, message, timeout=timeout)
    card = card_of(message)
    payload = render(card, where.mentions)
    headers = {"Authorization": f"Bearer {where.token}"} if where.token else None
    # one channel per target threads; a target posting to several has no single thread
    threads = bool(where.token) and len(where.channels) == 1
    thread_ts = await thread_of(target, card.thread_key) if threads else None
    last: SendOutcome | None = None
    for channel in where.channels or ("",):
        body = dict(payload, channel=channel) if channel else dict(payload)
        if thread_ts:
            body["thread_ts"] = thread_ts
        try:
            answer = await post_json(
                where.url, body, timeout=timeout, headers=headers, params=where.params
            )
        except TransportError as exc:
            return transport_outcome(exc)
        last = outcome(target, answer, web_api=bool(where.token))
        if not last.ok:
            return last
        if threads and card.thread_key and not thread_ts:
            await remember_thread(target, card.thread_key, answer_field(answer, "ts"))
    assert last is not None
    return last

"""WeCom group robot (`mrt.channels` entry points `wecombot`, `wecom`): markdown.

Targets: Apprise's `wecombot://KEY` (same meaning) or the robot's own
`https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY`. Options: `at=USERID,...` and
`at_all=yes`.

The message: markdown of at most 4096 bytes (a `###` title, the text, the fields quoted, a link);
user mentions as `<@USERID>` in it. Markdown cannot mention everyone or a mobile number: with
`at_all=yes` or a mobile in `at=` the message is text (at most 2048 bytes) with `mentioned_list`
(user ids, "@all") and `mentioned_mobile_list` instead. WeCom answers
HTTP 200 with `errcode`: 0 ok; 45009 (over 20 a minute) throttled for a minute; 93000 (invalid
webhook URL), 40008 (bad message type), 40058 (bad parameter), 44004 (empty), 45002 (too long)
dead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from mrt.config import ChannelConfig
from mrt.delivery.vendors.common import (
    Card,
    Mentions,
    answer_field,
    bad_target,
    card_of,
    escape_markdown,
    fit_bytes,
    markdown_link_url,
    mentions_of,
    query_options,
    vendor_outcome,
    vendor_targets,
    vendor_words,
    with_query,
)
from mrt.delivery.webhook_http import TransportError, post_json, transport_outcome
from mrt.errors import ConfigError
from mrt.message import Message, SendOutcome, Target

KIND = "wecombot"
API = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
MAX_MARKDOWN_BYTES = 4096
MAX_TEXT_BYTES = 2048
THROTTLE: dict[str, float | None] = {"45009": 60.0}
DEAD = frozenset({"93000", "40008", "40058", "44004", "45002"})
_OPTIONS = ("at", "at_all")


@dataclass(frozen=True, slots=True)
class Endpoint:
    url: str
    params: dict[str, str]
    mentions: Mentions


def endpoint(url: str) -> Endpoint:
    parts = urlsplit(url)
    options = query_options(url)
    if parts.scheme.lower() == "wecombot":
        key = options.get("key") or unquote(parts.hostname or "")
        base, params = API, dict[str, str]()
    else:
        key = options.get("key", "")
        base, params = with_query(url, (*_OPTIONS, "key"))
    if not key:
        raise ConfigError(
            "no robot key (expected wecombot://KEY or "
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY)"
        )
    return Endpoint(url=base, params={**params, "key": key}, mentions=mentions_of(url))


def _markdown(card: Card, mentions: Mentions) -> dict[str, Any]:
    title = card.title
    tail = []
    if card.link:
        tail.append(f"[Open]({markdown_link_url(card.link)})")
    if mentions.users:
        tail.append(" ".join(f"<@{user}>" for user in mentions.users))
    tail_text = "\n".join(tail)
    head = [f"### {escape_markdown(title)}"]
    if card.text:
        head.append(escape_markdown(card.text))
    head += [f"> **{escape_markdown(k)}**: {escape_markdown(v)}" for k, v in card.fields]
    room = MAX_MARKDOWN_BYTES - len(tail_text.encode("utf-8")) - 1
    content = fit_bytes("\n".join(head), room) + ("\n" + tail_text if tail_text else "")
    return {"msgtype": "markdown", "markdown": {"content": content}}


def _text(card: Card, mentions: Mentions) -> dict[str, Any]:
    title = card.title
    lines = [title, *([card.text] if card.text else [])]
    lines += [f"{k}: {v}" for k, v in card.fields]
    link = f"\n{card.link}" if card.link else ""
    content = fit_bytes("\n".join(lines), MAX_TEXT_BYTES - len(link.encode("utf-8"))) + link
    mobiles = [u for u in mentions.users if _is_mobile(u)]
    text: dict[str, Any] = {
        "content": content,
        "mentioned_list": [u for u in mentions.users if u not in mobiles]
        + (["@all"] if mentions.all else []),
    }
    if mobiles:
        text["mentioned_mobile_list"] = mobiles
    return {"msgtype": "text", "text": text}


def _is_mobile(user: str) -> bool:
    return user.lstrip("+").replace("-", "").isdigit()


def render(card: Card, mentions: Mentions) -> dict[str, Any]:
    """Markdown; text when it must mention everyone or a mobile number (markdown cannot)."""
    if mentions.all or any(_is_mobile(u) for u in mentions.users):
        return _text(card, mentions)
    return _markdown(card, mentions)


def check(url: str) -> object:
    """ConfigError when `url` is no target of this vendor (`mrt check` runs it)."""
    return endpoint(url)


def targets(name: str, channel: ChannelConfig, env: Mapping[str, str]) -> list[Target]:
    return vendor_targets(name, channel, env, kind=KIND, apprise_schemes=("wecombot",),
                          check=check)


async def send(target: Target, message: Message, *, timeout: float) -> SendOutcome:
    try:
        where = endpoint(target.url)
    except ConfigError as exc:
        return bad_target(target, exc)
    payload = render(card_of(message), where.mentions)
    try:
        answer = await post_json(where.url, payload, timeout=timeout, params=where.params)
    except TransportError as exc:
        return transport_outcome(exc)
    code = answer_field(answer, "errcode")
    said = vendor_words(answer_field(answer, "errmsg")) or vendor_words(
        answer.body.decode("utf-8", "replace")
    )
    return vendor_outcome(
        target, answer, None if code is None else str(code), said, throttle=THROTTLE, dead=DEAD
    )

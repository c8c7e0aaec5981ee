"""Feishu / Lark custom bot (`mrt.channels` entry points `feishu`, `lark`): an interactive card.

Targets: Apprise's `feishu://TOKEN` / `lark://TOKEN` (same meaning) or the bot's own
`https://open.feishu.cn/open-apis/bot/v2/hook/TOKEN`. Options on either: `secret=` (signing;
write it as a `${NAME}` placeholder so it comes from the environment), `at=OPEN_ID,...` and
`at_all=yes`.

The card: a header (the title; red for high and critical, grey for a test), the text as
plain_text (no markup at all), the alert's fields as lark_md with every markup character an
HTML entity, a button to the link, and the mentions (`<at id=...></at>`). Signed when a secret is
set: `timestamp` (s) and `sign = base64(HmacSHA256(key=timestamp + "\\n" + secret, msg=""))` in
the body. Custom bots cannot reply in a thread: follow-ups are new cards. An app bot can
(`https://open.feishu.cn/open-apis/im/v1/messages?receive_id=...`: feishu_bot.py).
Feishu answers `code` 0 for success; 9499 and 11232 (too frequent) are throttled; 19001
(bad parameters), 19021 (signature), 19022 (IP), 19024 (keyword) are dead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from mrt.config import ChannelConfig
from mrt.delivery.vendors import feishu_bot
from mrt.delivery.vendors.common import (
    Card,
    Mentions,
    answer_field,
    bad_target,
    card_of,
    mentions_of,
    query_options,
    vendor_outcome,
    vendor_targets,
    vendor_words,
    with_query,
)
from mrt.delivery.vendors.feishu_card import escape_lark_md, render_card
from mrt.delivery.webhook_http import TransportError, post_json, transport_outcome
from mrt.errors import ConfigError
from mrt.message import Message, SendOutcome, Target

__all__ = ["endpoint", "escape_lark_md", "render", "render_card", "send", "sign", "targets"]

KIND = "feishu"
HOSTS = {"feishu": "https://open.feishu.cn", "lark": "https://open.larksuite.com"}
HOOK_PATH = "/open-apis/bot/v2/hook/"
THROTTLE: dict[str, float | None] = {"9499": None, "11232": None}
DEAD = frozenset({"19001", "19021", "19022", "19024"})
_OPTIONS = ("secret", "at", "at_all", "token")


@dataclass(frozen=True, slots=True)
class Endpoint:
    url: str
    params: dict[str, str]
    secret: str
    mentions: Mentions


def endpoint(url: str) -> Endpoint:
    parts = urlsplit(url)
    options = query_options(url)
    scheme = parts.scheme.lower()
    if scheme in HOSTS:
        token = options.get("token") or unquote(parts.hostname or "")
        if not token:
            raise ConfigError(f"no bot token (expected {scheme}://TOKEN)")
        base, params = f"{HOSTS[scheme]}{HOOK_PATH}{quote(token, safe='')}", dict[str, str]()
    else:
        if HOOK_PATH not in parts.path or not parts.path.split(HOOK_PATH, 1)[1].strip("/"):
            raise ConfigError(
                "not a Feishu bot webhook (expected https://open.feishu.cn/open-apis/bot/v2/hook/"
                "TOKEN or feishu://TOKEN)"
            )
        base, params = with_query(url, _OPTIONS)
    return Endpoint(url=base, params=params, secret=options.get("secret", ""),
                    mentions=mentions_of(url))


def sign(secret: str, timestamp: int) -> str:
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


def render(card: Card, mentions: Mentions) -> dict[str, Any]:
    return {"msg_type": "interactive", "card": render_card(card, mentions)}


def check(url: str) -> object:
    """ConfigError when `url` is no Feishu target (`mrt check` runs it)."""
    return feishu_bot.bot_endpoint(url) if feishu_bot.is_bot_url(url) else endpoint(url)


def targets(name: str, channel: ChannelConfig, env: Mapping[str, str]) -> list[Target]:
    return vendor_targets(name, channel, env, kind=KIND, apprise_schemes=tuple(HOSTS),
                          check=check, signing_secrets=_secrets)


def _secrets(url: str) -> list[str]:
    if feishu_bot.is_bot_url(url):
        return [feishu_bot.bot_endpoint(url).app_secret]
    return [endpoint(url).secret]


def outcome(target: Target, answer: Any) -> SendOutcome:
    code = answer_field(answer, "code", "StatusCode")
    said = vendor_words(answer_field(answer, "msg", "StatusMessage")) or vendor_words(
        answer.body.decode("utf-8", "replace")
    )
    return vendor_outcome(
        target, answer, None if code is None else str(code), said, throttle=THROTTLE, dead=DEAD
    )


async def send(target: Target, message: Message, *, timeout: float) -> SendOutcome:
    if feishu_bot.is_bot_url(target.url):
        return await feishu_bot.send(target, message, timeout=timeout)
    try:
        where = endpoint(target.url)
    except ConfigError as exc:
        return bad_target(target, exc)
    payload = render(card_of(message), where.mentions)
    if where.secret:
        stamp = int(time.time())
        payload.update(timestamp=str(stamp), sign=sign(where.secret, stamp))
    try:
        answer = await post_json(where.url, payload, timeout=timeout, params=where.params)
    except TransportError as exc:
        return transport_outcome(exc)
    return outcome(target, answer)

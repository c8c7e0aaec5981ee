"""DingTalk custom robot (`mrt.channels` entry point `dingtalk`): ActionCard or markdown.

Targets: Apprise's `dingtalk://[SECRET@]TOKEN[/MOBILE/...]` (same meaning: the mobiles are
mentioned; `?secret=`, `?token=`, `?to=` as Apprise reads them) or the robot's own
`https://oapi.dingtalk.com/robot/send?access_token=TOKEN[&secret=SECRET]`. Options on either:
`at=ID,ID` (mobiles or user ids) and `at_all=yes`. Put the token and the signing secret in
`${NAME}` placeholders: they come from the environment, never from the file.

The message: an ActionCard (title, markdown text, the alert's fields, one button to the link);
markdown instead when someone is mentioned (an ActionCard cannot mention) or there is no link.
Signed when a secret is set: `timestamp` (ms) and `sign = base64(HmacSHA256(secret,
timestamp + "\\n" + secret))` in the query. DingTalk answers HTTP 200 for most failures: the
body's `errcode` decides (130101 too fast: throttled for 10 minutes; 310000 keyword, signature
or IP refused and the token/robot errors: dead; anything else non-zero: retried).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
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

KIND = "dingtalk"
API = "https://oapi.dingtalk.com/robot/send"
MAX_TEXT_BYTES = 15000  # the request may be 20000 bytes; room for the JSON around the text
MAX_TITLE = 64
THROTTLE: dict[str, float | None] = {"130101": 600.0}  # "send too fast": a 10-minute throttle
DEAD = frozenset({
    "310000",  # keywords not in content, signature mismatch, IP not allowed
    "300001", "300005", "400101", "400102", "400106",  # token / robot missing or disabled
    "400105",  # message type not supported
})
_OPTIONS = ("secret", "at", "at_all", "access_token", "token", "to")


@dataclass(frozen=True, slots=True)
class Endpoint:
    url: str
    params: dict[str, str]
    secret: str
    mentions: Mentions


def endpoint(url: str) -> Endpoint:
    parts = urlsplit(url)
    options = query_options(url)
    if parts.scheme.lower() == "dingtalk":
        token = options.get("token") or unquote(parts.hostname or "")
        secret = options.get("secret") or unquote(parts.username or "")
        mobiles = [unquote(p) for p in parts.path.split("/") if p]
        mobiles += [m for m in options.get("to", "").replace(" ", ",").split(",") if m]
        base, params = API, dict[str, str]()
    else:
        token = options.get("access_token", "")
        secret = options.get("secret", "")
        mobiles = []
        base, params = with_query(url, _OPTIONS)
    if not token:
        raise ConfigError(
            "no robot token (expected dingtalk://TOKEN or "
            "https://oapi.dingtalk.com/robot/send?access_token=TOKEN)"
        )
    return Endpoint(
        url=base, params={**params, "access_token": token}, secret=secret,
        mentions=mentions_of(url, extra_users=mobiles),
    )


def sign(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(
        secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def render(card: Card, mentions: Mentions) -> dict[str, Any]:
    title = fit_bytes(card.title, MAX_TITLE * 3)[:MAX_TITLE]
    lines = [f"#### {escape_markdown(title)}"]
    if card.text:
        lines += [escape_markdown(line) for line in card.text.split("\n")]
    lines += [f"- **{escape_markdown(k)}**: {escape_markdown(v)}" for k, v in card.fields]
    mentioned = [f"@{user}" for user in mentions.users]
    footer = "  \n".join(filter(None, [" ".join(mentioned)]))
    room = MAX_TEXT_BYTES - len(footer.encode("utf-8")) - 300
    text = fit_bytes("  \n".join(lines), room)
    if mentions.users or mentions.all or not card.link:
        if card.link:
            text += f"  \n[Open]({markdown_link_url(card.link)})"
        if footer:
            text += "  \n" + footer
        is_mobile = [u for u in mentions.users if u.lstrip("+").isdigit()]
        return {
            "msgtype": "markdown",
            "markdown": {"title": title, "text": text},
            "at": {
                "atMobiles": is_mobile,
                "atUserIds": [u for u in mentions.users if u not in is_mobile],
                "isAtAll": mentions.all,
            },
        }
    return {
        "msgtype": "actionCard",
        "actionCard": {
            "title": title, "text": text, "btnOrientation": "0",
            "singleTitle": "Open", "singleURL": card.link,
        },
    }


def check(url: str) -> object:
    """ConfigError when `url` is no target of this vendor (`mrt check` runs it)."""
    return endpoint(url)


def targets(name: str, channel: ChannelConfig, env: Mapping[str, str]) -> list[Target]:
    return vendor_targets(name, channel, env, kind=KIND, apprise_schemes=("dingtalk",),
                          check=check, signing_secrets=lambda url: [endpoint(url).secret])


async def send(target: Target, message: Message, *, timeout: float) -> SendOutcome:
    try:
        where = endpoint(target.url)
    except ConfigError as exc:
        return bad_target(target, exc)
    payload = render(card_of(message), where.mentions)
    params = dict(where.params)
    if where.secret:
        stamp = int(time.time() * 1000)
        params.update(timestamp=str(stamp), sign=sign(where.secret, stamp))
    try:
        answer = await post_json(where.url, payload, timeout=timeout, params=params)
    except TransportError as exc:
        return transport_outcome(exc)
    code = answer_field(answer, "errcode")
    said = vendor_words(answer_field(answer, "errmsg")) or vendor_words(
        answer.body.decode("utf-8", "replace")
    )
    return vendor_outcome(
        target, answer, None if code is None else str(code), said, throttle=THROTTLE, dead=DEAD
    )

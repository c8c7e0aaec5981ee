"""Feishu / Lark app bot (the IM API): the same card as the custom bot, and threads.

Target: `https://open.feishu.cn/open-apis/im/v1/messages?receive_id=CHAT_ID&app_id=${ID}&
app_secret=${SECRET}` (`receive_id_type` defaults to chat_id). The app's tenant token is fetched
(`auth/v3/tenant_access_token/internal`) and kept until shortly before it expires. A first
message about a resource is sent to the chat; a later one about the same resource (a PR opened,
then merged) replies to the first (`im/v1/messages/{id}/reply`, in its thread), the first's
message id kept in the database (mrt/store/vendor_threads.py).

Answers: `code` 0 ok; 99991400 (too frequent) and 11232 throttled; the tenant token's errors
(99991661, 99991663, 99991668) drop the kept token and are retried; 230001 (bad parameter),
230002 (the bot is not in the chat), 230006 (bot not enabled), 99991672 (no permission) and
10003 / 10014 (bad app id or secret) dead.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from mrt.delivery.vendors.common import (
    Card,
    answer_field,
    bad_target,
    card_of,
    mentions_of,
    query_options,
    remember_thread,
    thread_of,
    vendor_outcome,
    vendor_words,
)
from mrt.delivery.vendors.feishu_card import render_card
from mrt.delivery.webhook_http import TransportError, post_json, transport_outcome
from mrt.errors import ConfigError
from mrt.message import Message, SendOutcome, Target

MESSAGES_PATH = "/open-apis/im/v1/messages"
TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
THROTTLE: dict[str, float | None] = {"99991400": None, "11232": None}
TOKEN_ERRORS = frozenset({"99991661", "99991663", "99991668"})
DEAD = frozenset({"230001", "230002", "230006", "99991672", "10003", "10014"})
# (base, app id, the secret's digest: a new secret is a new token) -> (token, valid until)
_tokens: dict[tuple[str, str, str], tuple[str, float]] = {}


@dataclass(frozen=True, slots=True)
class BotEndpoint:
    base: str
    app_id: str
    app_secret: str
    receive_id: str
    receive_id_type: str


def is_bot_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme.lower() in ("http", "https") and parts.path.rstrip("/").endswith(
        MESSAGES_PATH
    )


def bot_endpoint(url: str) -> BotEndpoint:
    parts = urlsplit(url)
    options = query_options(url)
    missing = [k for k in ("receive_id", "app_id", "app_secret") if not options.get(k)]
    if missing:
        raise ConfigError(
            f"a Feishu bot URL needs {', '.join(missing)} (expected https://open.feishu.cn"
            "/open-apis/im/v1/messages?receive_id=CHAT_ID&app_id=${ID}&app_secret=${SECRET})"
        )
    mentions_of(url)  # the mention options are checked here too
    prefix = parts.path.rstrip("/")[: -len(MESSAGES_PATH)]
    return BotEndpoint(
        base=f"{parts.scheme}://{parts.netloc}{prefix}", app_id=options["app_id"],
        app_secret=options["app_secret"], receive_id=options["receive_id"],
        receive_id_type=options.get("receive_id_type", "chat_id"),
    )


def _token_key(where: BotEndpoint) -> tuple[str, str, str]:
    return where.base, where.app_id, hashlib.sha256(where.app_secret.encode()).hexdigest()


async def _tenant_token(where: BotEndpoint, target: Target, timeout: float
                        ) -> str | SendOutcome:
    key = _token_key(where)
    kept = _tokens.get(key)
    if kept is not None and kept[1] > time.monotonic():
        return kept[0]
    try:
        answer = await post_json(
            where.base + TOKEN_PATH, {"app_id": where.app_id, "app_secret": where.app_secret},
            timeout=timeout,
        )
    except TransportError as exc:
        return transport_outcome(exc)
    token = answer_field(answer, "tenant_access_token")
    code = answer_field(answer, "code")
    if not isinstance(token, str) or not token:
        said = vendor_words(answer_field(answer, "msg")) or "no tenant_access_token"
        failed = vendor_outcome(target, answer, str(code if code is not None else "no_token"),
                                f"tenant token: {said}", throttle=THROTTLE, dead=DEAD)
        return failed if not failed.ok else SendOutcome(ok=False, message=said)
    expire = answer_field(answer, "expire")
    seconds = float(expire) if isinstance(expire, int | float) else 7200.0
    _tokens[key] = (token, time.monotonic() + max(60.0, seconds - 300.0))
    return token


async def send(target: Target, message: Message, *, timeout: float) -> SendOutcome:
    try:
        where = bot_endpoint(target.url)
    except ConfigError as exc:
        return bad_target(target, exc)
    card: Card = card_of(message)
    token = await _tenant_token(where, target, timeout)
    if isinstance(token, SendOutcome):
        return token
    content = json.dumps(render_card(card, mentions_of(target.url)), ensure_ascii=False)
    reply_to = await thread_of(target, card.thread_key)
    body: dict[str, Any] = {"msg_type": "interactive", "content": content}
    if reply_to:
        url, params = f"{where.base}{MESSAGES_PATH}/{quote(reply_to, safe='')}/reply", {}
        body["reply_in_thread"] = True
    else:
        url, params = where.base + MESSAGES_PATH, {"receive_id_type": where.receive_id_type}
        body["receive_id"] = where.receive_id
    try:
        answer = await post_json(url, body, timeout=timeout, params=params,
                                 headers={"Authorization": f"Bearer {token}"})
    except TransportError as exc:
        return transport_outcome(exc)
    code = answer_field(answer, "code")
    if code is not None and str(code) in TOKEN_ERRORS:
        _tokens.pop(_token_key(where), None)  # fetched afresh on the next try
    outcome = vendor_outcome(
        target, answer, None if code is None else str(code),
        vendor_words(answer_field(answer, "msg")), throttle=THROTTLE, dead=DEAD,
    )
    data = answer_field(answer, "data")
    message_id = data.get("message_id") if isinstance(data, dict) else None
    if outcome.ok and card.thread_key and not reply_to:
        await remember_thread(target, card.thread_key, message_id)
    return outcome

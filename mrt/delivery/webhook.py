"""WeLink robots and generic JSON webhooks through our pooled client (`mrt.channels` plugin).

Registered under the kinds it sends (`welink`, `json`, `jsons`): `channels.plugin_for` picks it
for those targets instead of Apprise. Targets, their keys and their URL forms stay exactly what
the Apprise channel makes of a URL (`targets` is Apprise's), so outbox rows queued before keep
their target. What changes is the send: no Apprise object, no URL parse, no thread and no new
connection per message; one POST on the worker's loop through mrt.delivery.webhook_http, with
the vendor's answer mapped onto a SendOutcome.

- WeLink: the payload, limits, mentions and answer codes of mrt/delivery/welink.py (its plugin
  parses the URL once per target and builds the JSON); HTTP 429 is a throttle.
- JSON (`json://`, `jsons://`): Apprise's JSON payload ({version, title, message, attachments,
  type} with the URL's `:key=value` payload edits, `+Header=value` headers, `-param=value` query,
  user:password as basic auth). A URL asking for another method than POST, or for certificates
  not to be verified, is sent by Apprise as before. A redirect is not followed (a webhook that
  moved is misconfigured: its answer says where to).

Each target's parsed form is cached by its URL (bounded); secrets never reach an error text:
webhook_http's errors carry no URL, and the sender scrubs every text with the target's secrets.
"""

# Apprise's plugin classes are typed loosely; they are only read here (their parsed URL).
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from mrt.config import ChannelConfig
from mrt.delivery import apprise_channel
from mrt.delivery.base import Message, SendOutcome, Target
from mrt.delivery.target_urls import parse_json
from mrt.delivery.webhook_http import (
    TransportError,
    WebhookAnswer,
    outcome_for_status,
    post_json,
    transport_outcome,
)
from mrt.delivery.welink_robot import KNOWN_CODES, parse_welink

KINDS = ("welink", "json", "jsons")
# Apprise's words for HTTP statuses (apprise.url.HTML_LOOKUP, which its JSON plugin reports),
# kept here so that a refused POST does not import Apprise; tests/test_target_keys.py compares
APPRISE_HTTP_WORDS: dict[int, str] = {
    400: "Bad Request - Unsupported Parameters.",
    401: "Verification Failed.",
    404: "Page not found.",
    405: "Method not allowed.",
    500: "Internal server error.",
    503: "Servers are overloaded.",
}
CACHED_TARGETS = 256


def targets(name: str, channel: ChannelConfig, env: Mapping[str, str]) -> list[Target]:
    """The same targets the Apprise channel makes (a channel may name `type = "json"`)."""
    return apprise_channel.targets(name, channel, env)


@dataclass(frozen=True, slots=True)
class _Json:
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    extras: dict[str, str] = field(default_factory=dict)
    by_apprise: bool = False  # a method or TLS setting our client does not do


@lru_cache(maxsize=CACHED_TARGETS)
def _plugin(url: str) -> Any:
    """Apprise's reading of a URL parse_welink / parse_json leave to it (imports Apprise)."""
    from apprise import Apprise, AppriseAsset

    from mrt.delivery.welink import register_welink

    register_welink()
    return Apprise.instantiate(url, asset=AppriseAsset(storage_mode="memory"),
                               suppress_exceptions=False)


@lru_cache(maxsize=CACHED_TARGETS)
def _json(url: str) -> _Json:
    hook = parse_json(url)
    if hook is not None:
        headers = dict(hook.headers)
        if hook.user:
            pair = f"{hook.user}:{hook.password or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        return _Json(url=hook.endpoint, headers=headers, params=dict(hook.params),
                     extras=dict(hook.extras))
    from apprise.plugins.custom_json import NotifyJSON

    plugin = _plugin(url)
    if not isinstance(plugin, NotifyJSON):
        return _Json(url="", by_apprise=True)
    base = f"{'https' if plugin.secure else 'http'}://{plugin.host}"
    if isinstance(plugin.port, int):
        base += f":{plugin.port}"
    headers = dict(plugin.headers)
    if plugin.user:
        pair = f"{plugin.user}:{plugin.password or ''}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    return _Json(
        url=base + (plugin.fullpath or ""),
        headers=headers,
        params=dict(plugin.params),
        extras=dict(plugin.payload_extras),
        by_apprise=plugin.method != "POST" or not plugin.verify_certificate,
    )


def json_payload(message: Message, extras: Mapping[str, str]) -> dict[str, Any]:
    """Apprise's JSON payload for a text message, with the URL's payload edits applied."""
    payload: dict[str, Any] = {
        "version": "1.0", "title": message.subject, "message": message.body,
        "attachments": [], "type": "info",
    }
    for key, value in extras.items():
        if key in payload:
            moved = payload.pop(key)
            if value:
                payload[value] = moved
        else:
            payload[key] = value
    return payload


async def send(target: Target, message: Message, *, timeout: float) -> SendOutcome:
    """One POST; every failure is a SendOutcome, never an exception."""
    try:
        if target.kind == "welink":
            outcome = await _send_welink(target, message, timeout)
        else:
            outcome = await _send_json(target, message, timeout)
    except TransportError as exc:
        outcome = transport_outcome(exc)
        if exc.error_class == "ConnectionError":  # as the plugins said it: the class only
            outcome = replace(outcome, message="ConnectionError")
    except Exception as exc:  # a URL the plugin refuses: the same words as Apprise's channel
        outcome = SendOutcome(ok=False, error_class=type(exc).__name__, message=str(exc))
    if outcome.message:
        outcome = replace(
            outcome, message=apprise_channel.scrub(outcome.message, target.secrets)[:500]
        )
    return outcome


async def _send_json(target: Target, message: Message, timeout: float) -> SendOutcome:
    prepared = _json(target.url)
    if prepared.by_apprise:
        return await apprise_channel.send(target, message, timeout=timeout)
    answer = await post_json(
        prepared.url, json_payload(message, prepared.extras), timeout=timeout,
        # no `-param=` options: no params, or httpx parses the URL again to add an empty query
        headers=prepared.headers, params=prepared.params or None,
    )
    if 200 <= answer.status < 300:
        return outcome_for_status(answer)
    # Apprise's words for a refused JSON POST, which operators and tests have read so far
    said = APPRISE_HTTP_WORDS.get(answer.status, "")
    text = f"Failed to send JSON POST notification: {said}{', ' if said else ''}error={answer.status}."
    return replace(outcome_for_status(answer), message=text)


async def _send_welink(target: Target, message: Message, timeout: float) -> SendOutcome:
    robot: Any = parse_welink(target.url)
    if robot is None:  # a form only Apprise's plugin reads (verify=no, ...)
        from mrt.delivery.welink import NotifyWeLink

        robot = _plugin(target.url)
        if not isinstance(robot, NotifyWeLink):
            return SendOutcome(ok=False, retryable=False, error_class="InvalidUrl",
                               message="URL not understood")
    if not robot.verify_certificate:  # our client always verifies: Apprise's does not have to
        return await apprise_channel.send(target, message, timeout=timeout)
    answer = await post_json(
        robot.endpoint, robot.build_payload(message.body, message.subject), timeout=timeout,
        params={"token": robot.token, "channel": robot.channel},
    )
    return welink_outcome(answer)


def welink_outcome(answer: WebhookAnswer) -> SendOutcome:
    """The robot's answer in the words of mrt/delivery/welink.py (the Apprise plugin's)."""
    found = answer.json()
    code: str | None = None
    reason = ""
    if isinstance(found, dict):
        code = None if found.get("code") is None else str(found.get("code"))
        reason = str(found.get("message") or found.get("data") or "")[:200]
    if answer.status == 200 and code == "0":
        return SendOutcome(ok=True, retryable=False, http_status=200)
    if answer.status != 200:
        outcome = outcome_for_status(answer, reason)
        return SendOutcome(
            ok=False, retryable=outcome.retryable, throttled=outcome.throttled,
            retry_after=outcome.retry_after, http_status=answer.status, vendor_code=code,
            error_class=outcome.error_class, message=outcome.message,
        )
    meaning, retryable = KNOWN_CODES.get(code or "", ("unexpected answer", True))
    return SendOutcome(
        ok=False, retryable=retryable, http_status=answer.status, vendor_code=code,
        error_class="VendorError",
        message=f"code {code}: {meaning}" + (f" ({reason})" if reason else ""),
    )

"""The built-in channel plugin (`mrt.channels` entry point `apprise`): Apprise URLs as targets.

Each URL of a channel is a target of its own (its own outbox rows, retries and spacing). A send
builds one Apprise object for one target with Apprise's own retries off (ours are persistent,
in the outbox) and reads the outcome from Apprise 2.x's result objects: `AppriseResult` ->
`NotifyResult` (status) -> the attempt's captured WARNING logs (the plugin's own words, where
Apprise's HTTP plugins put `error=<HTTP status>`), and the plugin's exception that Apprise logs
only at DEBUG (an SMTP server's "550 ... rejected": apprise_detail). That DEBUG capture leaves
the log alone: `configure_logging` sets the level on the root handlers, and every line passes the
one secret scrubber (mrt.secrets), so token-bearing debug lines never reach
our logs. WeLink, being ours, also leaves a structured answer (`plugin.answer`): HTTP status,
vendor code, retryable. A vendor throttling code is recognised wherever a plugin reports one.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import replace
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlencode, urlsplit

from apprise import Apprise, AppriseAsset, AppriseResult, AppriseResultStatus, NotifyFormat

from mrt.config import ChannelConfig
from mrt.delivery.apprise_detail import enable_detail, failure_detail
from mrt.delivery.base import Message, SendOutcome, Target
from mrt.delivery.welink import (
    MAX_TEXT,
    NotifyWeLink,
    is_welink_webhook,
    register_welink,
    webhook_to_welink_url,
)
from mrt.errors import ConfigError, MissingSecretError
from mrt.secrets import TOKEN_HOST_SCHEMES, Scrubber, mask_privacy_url, url_secret_parts

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_HTTP_ERROR = re.compile(r"\berror=(\d{3})\b")

# Vendor answers that mean "slow down": treated like HTTP 429 by the sender. Apprise's stock
# DingTalk/Feishu/WeCom plugins do not report these (they judge by HTTP status alone), so the
# map applies to plugins that leave a structured `answer` with a vendor code, as ours do.
THROTTLE_CODES: dict[str, frozenset[str]] = {
    "dingtalk": frozenset({"130101"}),
    "feishu": frozenset({"11232"}),
    "lark": frozenset({"11232"}),
    "wecombot": frozenset({"45009"}),
}
# Per-kind text limits (characters) where the robot enforces one.
KIND_MAX_LENGTH: dict[str, int] = {"welink": MAX_TEXT, "wecombot": 2048}


def expand_placeholders(url: str, env: Mapping[str, str], where: str) -> tuple[str, list[str]]:
    """`${NAME}` -> env[NAME]; a missing variable is a MissingSecretError naming it."""
    used: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        value = env.get(name)
        if not value:
            raise MissingSecretError(
                f"environment variable {name} is not set (needed by {where})", title=None
            )
        used.append(value)
        return value

    return _PLACEHOLDER.sub(substitute, url), used


def _legacy_key(privacy_url: str, url: str, secrets: Iterable[str]) -> str:
    """The key this target had before masks hid all of a token (outbox rows written then
    still carry it): Apprise's privacy form with the known secrets, whole URL included,
    replaced by `***`."""
    parts = urlsplit(url)
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    found = [url, *secrets, unquote(password) if password else ""]
    if parts.scheme.lower() in TOKEN_HOST_SCHEMES:
        found += [unquote(user), unquote(hostport.split(":")[0]) if not userinfo else ""]
    found += [
        unquote(v)
        for k, v in parse_qsl(parts.query)
        if v and re.search(r"token|key|secret|pass|sign|auth|webhook|sid|^\+", k, re.IGNORECASE)
    ]
    found += [unquote(p) for p in parts.path.split("/") if len(p) >= 16]
    forms = {f for s in found if s for f in (s, quote(s, safe=""), quote_plus(s))}
    for form in sorted((f for f in forms if len(f) >= 3), key=len, reverse=True):
        privacy_url = privacy_url.replace(form, "***")
    return stable_key(privacy_url)


def _asset() -> AppriseAsset:
    # Memory-only storage: Apprise must not write state files on the operator's disk.
    return AppriseAsset(storage_mode="memory")


def build_target(
    channel_name: str,
    url: str,
    secrets: Iterable[str],
    *,
    max_length: int | None = None,
    min_interval_seconds: float | None = None,
) -> Target:
    """One Apprise URL -> a Target keyed by its privacy URL. ConfigError if Apprise rejects it."""
    register_welink()
    if is_welink_webhook(url):
        url = webhook_to_welink_url(url)
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    try:
        plugin = Apprise.instantiate(url, asset=_asset(), suppress_exceptions=False)
    except Exception as exc:  # the plugin's own validation: say which channel, never the URL
        raise ConfigError(
            f"{scheme or 'a'}:// URL rejected by Apprise: {scrub(str(exc), [url, *secrets])}",
            path=f"channels.{channel_name}",
        ) from None
    if plugin is None:
        raise ConfigError(
            f"{scheme or '?'}:// is not a URL Apprise understands (unknown scheme or bad shape)",
            path=f"channels.{channel_name}",
        )
    all_secrets = tuple(dict.fromkeys(s for s in [*secrets, *url_secret_parts(url)] if s))
    kind = plugin.secure_protocol if isinstance(plugin, NotifyWeLink) else scheme
    limit = max_length or KIND_MAX_LENGTH.get(kind)
    privacy_url = str(plugin.url(privacy=True))  # type: ignore[no-untyped-call]
    # Apprise masks what each plugin declares private, keeping a token's first and last
    # characters; mask those wholly and scrub again for what it does not (a value from the
    # environment in a header or query).
    key = stable_key(scrub(mask_privacy_url(privacy_url), [url, *all_secrets]))
    legacy = _legacy_key(privacy_url, url, secrets)
    return Target(
        channel=channel_name,
        key=key,
        url=url,
        kind=kind,
        max_length=limit,
        min_interval_seconds=min_interval_seconds,
        secrets=all_secrets,
        previous_keys=(legacy,) if legacy != key else (),
    )


# How we call Apprise (its retries, overflow handling), not which target it is: left out of the
# key so that the outbox's target keys survive an Apprise upgrade that changes those defaults.
_SEND_SETTINGS = frozenset({"overflow", "retry", "wait", "optional", "cto", "rto", "format"})


def stable_key(privacy_url: str) -> str:
    base, _, query = privacy_url.partition("?")
    kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k not in _SEND_SETTINGS]
    return base + ("?" + urlencode(kept, safe="*") if kept else "")


def targets(name: str, channel: ChannelConfig, env: Mapping[str, str]) -> list[Target]:
    found: list[Target] = []
    for index, raw in enumerate(channel.urls):
        url, used = expand_placeholders(raw, env, f"channels.{name}.urls[{index}]")
        found.append(
            build_target(
                name,
                url,
                used,
                max_length=channel.max_length,
                min_interval_seconds=channel.min_interval_seconds,
            )
        )
    for var in channel.url_env:
        value = env.get(var)
        if not value:
            raise MissingSecretError(
                f"environment variable {var} is not set (needed by channels.{name}.url_env)"
            )
        found.append(
            build_target(
                name,
                value.strip(),
                [value.strip()],
                max_length=channel.max_length,
                min_interval_seconds=channel.min_interval_seconds,
            )
        )
    return disambiguate(found)


def disambiguate(found: list[Target]) -> list[Target]:
    """Two URLs whose privacy forms coincide get a short hash so each keeps its own outbox row
    (and so do their former keys, as they did then)."""
    keys = Counter(t.key for t in found)
    former = Counter(k for t in found for k in t.previous_keys or (t.key,))
    result: list[Target] = []
    for target in found:
        digest = hashlib.sha256(target.url.encode()).hexdigest()[:10]
        key = f"{target.key}#{digest}" if keys[target.key] > 1 else target.key
        previous = tuple(
            f"{k}#{digest}" if former[k] > 1 else k for k in target.previous_keys or (target.key,)
        )
        result.append(
            replace(target, key=key, previous_keys=tuple(k for k in previous if k != key))
        )
    return result


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Every secret in `text` removed (mrt.secrets: the one scrubber); URLs stay readable."""
    return Scrubber(secrets)(text)


def outcome_from_result(target: Target, result: AppriseResult, plugin: Any) -> SendOutcome:
    """Apprise's per-service result (and, for WeLink, the robot's answer) -> SendOutcome."""
    service = result.results[0] if result.results else None
    status = service.status if service is not None else result.status
    if status == AppriseResultStatus.SUCCESS:
        return SendOutcome(ok=True, retryable=False, http_status=_ok_status(plugin))
    if status == AppriseResultStatus.TIMEOUT:
        return SendOutcome(
            ok=False, error_class="Timeout", message="no answer before the send timeout"
        )
    answer = getattr(plugin, "answer", None)
    warnings: list[str] = []
    http_status: int | None = None
    vendor_code: str | None = None
    for entry in result.logs():  # DEBUG lines are captured too: failure_detail reads them
        if entry.level in {"WARNING", "ERROR", "CRITICAL"}:
            warnings.append(entry.message)
            match = _HTTP_ERROR.search(entry.message)
            if match:
                http_status = int(match.group(1))
    if answer is not None:
        http_status = answer.http_status
        vendor_code = answer.vendor_code
    throttled = http_status == 429 or vendor_code in THROTTLE_CODES.get(target.kind, frozenset())
    if answer is not None:
        retryable = answer.retryable or throttled
        error_class = "Throttled" if throttled else answer.error_class
        message = answer.message
    else:
        retryable = http_status is None or http_status >= 500 or http_status in {408, 425, 429}
        error_class = (
            "Throttled"
            if throttled
            else "HttpError"
            if http_status is not None
            else "ConnectionError"
            if any("connection" in w.lower() for w in warnings)
            else "DeliveryFailed"
        )
        message = " | ".join(dict.fromkeys(warnings)) or "Apprise reported a failure"
        detail = failure_detail(result.logs())
        if detail:  # what the far side said (an SMTP server's 550) says more than the warning
            message = detail
            error_class = "Refused"
    return SendOutcome(
        ok=False,
        retryable=retryable,
        throttled=throttled,
        http_status=http_status,
        vendor_code=vendor_code,
        error_class=error_class,
        message=scrub(message or "", target.secrets)[:500],
    )


def _ok_status(plugin: Any) -> int | None:
    answer = getattr(plugin, "answer", None)
    return answer.http_status if answer is not None else None


@lru_cache(maxsize=256)
def instance(url: str) -> tuple[Apprise, Any] | None:
    """One Apprise object and plugin per target URL, built on its first send: parsing the URL
    and building the plugin cost more than many sends (a target's sends never overlap: the
    sender has one in flight per target)."""
    register_welink()
    asset = _asset()
    plugin = Apprise.instantiate(url, asset=asset, suppress_exceptions=False)
    if plugin is None:
        return None
    plugin.retry = 0  # our retries are persistent, in the outbox; never Apprise's in-process ones
    # Apprise paces the sends of one plugin object (5.5 s apart for email): pacing is the
    # target's rate budget's job, and a kept plugin would otherwise sleep before every send.
    plugin.request_rate_per_sec = 0
    apobj = Apprise(asset=asset)
    apobj.add(plugin)
    return apobj, plugin


def _send_blocking(target: Target, message: Message, timeout: float) -> SendOutcome:
    built = instance(target.url)
    if built is None:
        return SendOutcome(
            ok=False, retryable=False, error_class="InvalidUrl", message="URL not understood"
        )
    apobj, plugin = built
    if hasattr(plugin, "answer"):
        plugin.answer = None  # ours leave the robot's answer here: never the last send's
    plugin.socket_connect_timeout = min(float(timeout), 10.0)
    plugin.socket_read_timeout = float(timeout)
    with apobj.notify(
        body=message.body,
        title=message.subject,
        body_format=NotifyFormat.TEXT,
        # bounds this thread after the sender has stopped waiting (a far side that trickles
        # bytes never trips the socket read timeout)
        timeout=timeout + 1.0,
        log_level=enable_detail(),  # the plugin's exception (an SMTP refusal) is a DEBUG line
    ) as result:
        return outcome_from_result(target, result, plugin)


async def send(target: Target, message: Message, *, timeout: float) -> SendOutcome:
    """Send one message to one target; every failure is a SendOutcome, never an exception."""
    try:
        # Apprise is synchronous: it runs in a thread whose sockets and notify() wait both use
        # `timeout`; the sender's one wait bounds the send (mrt.delivery.sender).
        return await asyncio.to_thread(_send_blocking, target, message, timeout)
    except Exception as exc:
        return SendOutcome(
            ok=False,
            error_class=type(exc).__name__,
            message=scrub(str(exc), target.secrets)[:500],
        )

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
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from mrt.config import ChannelConfig
from mrt.delivery.base import Message, SendOutcome, Target
from mrt.delivery.target_urls import (  # re-exported: their home was here
    KIND_MAX_LENGTH,
    build_target,
    disambiguate,
    expand_placeholders,
    keyed_target,
    legacy_key,
    scrub,
    stable_key,
)
from mrt.errors import ConfigError, MissingSecretError

if TYPE_CHECKING:
    from apprise import AppriseAsset, AppriseResult

# Apprise itself (which loads every notification plugin it has, ~27 MiB) is imported by the
# functions that build or send an Apprise target, never by importing this module: a config
# whose targets we parse and send ourselves (mrt.delivery.target_urls) never loads it.
__all__ = [
    "KIND_MAX_LENGTH",
    "apprise_target",
    "build_target",
    "disambiguate",
    "expand_placeholders",
    "legacy_key",
    "scrub",
    "send",
    "stable_key",
    "targets",
]

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


def _asset() -> AppriseAsset:
    from apprise import AppriseAsset

    # Memory-only storage: Apprise must not write state files on the operator's disk.
    return AppriseAsset(storage_mode="memory")


def apprise_target(
    channel_name: str,
    url: str,
    secrets: Iterable[str],
    *,
    max_length: int | None = None,
    min_interval_seconds: float | None = None,
) -> Target:
    """One Apprise URL -> a Target keyed by its privacy URL. ConfigError if Apprise rejects it."""
    from apprise import Apprise

    from mrt.delivery.welink import (
        NotifyWeLink,
        is_welink_webhook,
        register_welink,
        webhook_to_welink_url,
    )

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
    kind = plugin.secure_protocol if isinstance(plugin, NotifyWeLink) else scheme
    privacy_url = str(plugin.url(privacy=True))  # type: ignore[no-untyped-call]
    return keyed_target(channel_name, url, secrets, kind, privacy_url, max_length=max_length,
                        min_interval_seconds=min_interval_seconds)


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


def outcome_from_result(target: Target, result: AppriseResult, plugin: Any) -> SendOutcome:
    """Apprise's per-service result (and, for WeLink, the robot's answer) -> SendOutcome."""
    from apprise import AppriseResultStatus

    from mrt.delivery.apprise_detail import failure_detail

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
def instance(url: str) -> tuple[Any, Any] | None:
    """One Apprise object and plugin per target URL, built on its first send: parsing the URL
    and building the plugin cost more than many sends (a target's sends never overlap: the
    sender has one in flight per target)."""
    from apprise import Apprise

    from mrt.delivery.welink import register_welink

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


def _send_blocking(
    target: Target, message: Message, timeout: float, html: str | None = None
) -> SendOutcome:
    """One send through the target's kept plugin: the text, or `html` as an HTML body (which
    Apprise's email sends as multipart/alternative with a text part made from it)."""
    built = instance(target.url)
    if built is None:
        return SendOutcome(
            ok=False, retryable=False, error_class="InvalidUrl", message="URL not understood"
        )
    from apprise import NotifyFormat

    from mrt.delivery.apprise_detail import enable_detail

    apobj, plugin = built
    if hasattr(plugin, "answer"):
        plugin.answer = None  # ours leave the robot's answer here: never the last send's
    plugin.socket_connect_timeout = min(float(timeout), 10.0)
    plugin.socket_read_timeout = float(timeout)
    with apobj.notify(
        body=message.body if html is None else html,
        title=message.subject,
        body_format=NotifyFormat.TEXT if html is None else NotifyFormat.HTML,
        # bounds this thread after the sender has stopped waiting (a far side that trickles
        # bytes never trips the socket read timeout)
        timeout=timeout + 1.0,
        log_level=enable_detail(),  # the plugin's exception (an SMTP refusal) is a DEBUG line
    ) as result:
        return outcome_from_result(target, result, plugin)


async def send(
    target: Target, message: Message, *, timeout: float, html: str | None = None
) -> SendOutcome:
    """Send one message to one target; every failure is a SendOutcome, never an exception.
    `html`: send that as the body instead of the text (mrt.delivery.vendors.mail)."""
    try:
        # Apprise is synchronous: it runs in a thread whose sockets and notify() wait both use
        # `timeout`; the sender's one wait bounds the send (mrt.delivery.sender).
        return await asyncio.to_thread(_send_blocking, target, message, timeout, html)
    except Exception as exc:
        return SendOutcome(
            ok=False,
            error_class=type(exc).__name__,
            message=scrub(str(exc), target.secrets)[:500],
        )

"""Delivery targets from the config, and the one `send` the outbox sender calls.

    resolve_targets(config, env) -> {channel name: [Target, ...]}
        config.channels through their plugin (by `type`, from the `mrt.channels` entry points);
        a channel described by `welink_robot` or `smtp` (what the config made of v0's
        notify.welink and notify.email) is built here from that description.
    await send(target, message, timeout=...) -> SendOutcome   (never raises)

A target is sent by the channel plugin whose entry point name equals `target.kind` (console,
or a third-party plugin that names its kind after itself); every other kind is an Apprise URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from urllib.parse import quote, urlencode

from mrt.config import ChannelConfig, Config, SmtpMail, WeLinkRobot, default_sender
from mrt.delivery.base import Message, SendOutcome, Target
from mrt.errors import ConfigError, MissingSecretError, PluginError
from mrt.plugins import channel_plugins


def resolve_targets(config: Config, env: Mapping[str, str]) -> dict[str, list[Target]]:
    plugins = channel_plugins()
    resolved: dict[str, list[Target]] = {}
    for name, channel in config.channels.items():
        described = described_target(channel, env)
        if described is not None:
            resolved[name] = [described]
            continue
        plugin = plugins.get(channel.type)
        if plugin is None:
            known = ", ".join(sorted(plugins)) or "none"
            raise PluginError(
                f"channels.{name}: no channel plugin named {channel.type!r} is installed "
                f"(installed: {known})"
            )
        resolved[name] = list(plugin.targets(name, channel, env))
    return resolved


def described_target(channel: ChannelConfig, env: Mapping[str, str]) -> Target | None:
    """The target of a channel the config described (v0's notify sections), else None.

    Channel name and kind stay "welink" / "email" as in v0: the target key, which outbox rows
    written before an upgrade are matched by, must not change."""
    if channel.welink_robot is not None:
        return welink_robot_target(channel.welink_robot, env)
    if channel.smtp is not None:
        return smtp_target(channel.smtp, env)
    return None


def welink_robot_target(section: WeLinkRobot, env: Mapping[str, str]) -> Target:
    """A WeLink robot (v0's notify.welink): the webhook URL from `webhook_env`, mentions as
    welink:// options."""
    # keyed without Apprise (mrt.delivery.target_urls) unless the URL needs Apprise to read it
    from mrt.delivery.target_urls import build_target
    from mrt.delivery.welink_robot import is_welink_url, is_welink_webhook, webhook_to_welink_url

    raw = (env.get(section.webhook_env) or "").strip()
    if not raw:
        raise MissingSecretError(
            f"environment variable {section.webhook_env} is not set "
            "(needed by notify.welink.webhook_env)"
        )
    options = {"is_at": "yes" if section.is_at else "no"}
    if section.at_accounts:
        options["at"] = ",".join(section.at_accounts)
    if section.is_at_all:
        options["at_all"] = "yes"
    if is_welink_webhook(raw):
        url = webhook_to_welink_url(raw, **options)
    elif is_welink_url(raw):
        url = raw + ("&" if "?" in raw else "?") + urlencode(options)
    else:
        raise ConfigError(
            f"{section.webhook_env} does not hold a WeLink robot URL (expected "
            "https://open.welink.huaweicloud.com/api/werobot/v1/webhook/send?token=...&channel=...)",
            path="notify.welink.webhook_env",
        )
    return build_target("welink", url, [raw])


def smtp_url(section: SmtpMail, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """An SMTP description (v0's notify.email) -> an Apprise mailto(s) URL, and its secrets.

    use_tls: STARTTLS (or implicit TLS on 465), certificates verified (Apprise's default,
    never turned off here). Without use_tls: plain SMTP, as v0 did. No user_env: no login (an
    internal relay). The sender: from_addr, else the login name, else `mrt@<hostname>`.
    """
    user = _env_value(env, section.user_env, "notify.email.user_env")
    # v0 logged in only when a user name was set: without one, the password is never read
    password = _env_value(env, section.password_env, "notify.email.password_env") if user else ""
    # v0 sent as the login name; with none (an internal relay) or a bare name: mrt@<hostname>
    sender = section.from_addr or (user if "@" in user else default_sender())
    auth = ""
    if user:
        auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "") + "@"
    mode = ("ssl" if section.smtp_port == 465 else "starttls") if section.use_tls else "insecure"
    scheme = "mailtos" if section.use_tls else "mailto"
    params = {
        "smtp": section.smtp_host,
        "from": sender,
        "to": ",".join(section.to_list),
        "mode": mode,
    }
    host = section.smtp_host if ":" not in section.smtp_host else f"[{section.smtp_host}]"
    url = f"{scheme}://{auth}{host}:{section.smtp_port}/?{urlencode(params)}"
    return url, [s for s in (password,) if s]


def smtp_target(section: SmtpMail, env: Mapping[str, str]) -> Target:
    from mrt.delivery.target_urls import build_target

    url, secrets = smtp_url(section, env)
    return build_target("email", url, secrets)


def _env_value(env: Mapping[str, str], var: str | None, where: str) -> str:
    if not var:
        return ""
    value = env.get(var)
    if not value:
        raise MissingSecretError(f"environment variable {var} is not set (needed by {where})")
    return value


def plugin_for(target: Target, plugins: Mapping[str, ModuleType] | None = None) -> ModuleType:
    found = channel_plugins() if plugins is None else plugins
    plugin = found.get(target.kind) or found.get("apprise")
    if plugin is None:
        raise PluginError(f"no channel plugin can send to a {target.kind or '?'} target")
    return plugin


async def send(target: Target, message: Message, *, timeout: float) -> SendOutcome:
    """Send through the target's plugin; a plugin's exception becomes a failed SendOutcome.

    `timeout` is for the plugin's own I/O; the sender's wait is what bounds the send."""
    try:
        plugin = plugin_for(target)
        outcome: SendOutcome = await plugin.send(target, message, timeout=timeout)
        return outcome
    except Exception as exc:
        from mrt.delivery.target_urls import scrub

        return SendOutcome(
            ok=False,
            error_class=type(exc).__name__,
            message=scrub(str(exc), target.secrets)[:500],
        )

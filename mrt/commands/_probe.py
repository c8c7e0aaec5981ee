"""The checks behind `mrt check`: database, secrets and channels, each one line for a human.

Kept out of the command module so other front ends (the TUI's health screen) can run them.
A probe never prints a secret: URLs are shown in Apprise's privacy form or as scheme and host,
and error texts from libraries are scrubbed of every value taken from the environment.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import peewee

from mrt.config import (
    ChannelConfig,
    Config,
    WeLinkRobot,
    database_display,
    database_target,
    describe_missing,
    did_you_mean,
    env_requirements,
    expand_placeholders,
    missing_requirements,
    placeholders,
)
from mrt.errors import ConfigError, MissingSecretError, MrtError
from mrt.plugins import channel_plugins, section_warnings

Status = Literal["ok", "warn", "error"]


@dataclass(frozen=True, slots=True)
class Finding:
    status: Status
    what: str  # database, env GITHUB_TOKEN, channels.slack.urls[0], ...
    text: str
    config_problem: bool = True  # an error in the config or its environment (exit 2), else 1

    def line(self) -> str:
        return f"{self.status:<5} {self.what}: {self.text}"


def exit_code(findings: list[Finding]) -> int:
    errors = [f for f in findings if f.status == "error"]
    if any(f.config_problem for f in errors):
        return 2
    return 1 if errors else 0


def scrub(text: str, env: Mapping[str, str], config: Config) -> str:
    for req in env_requirements(config):
        value = env.get(req.name)
        if value and len(value) >= 4:
            text = text.replace(value, f"${{{req.name}}}")
    return text


def probe_database(config: Config, env: Mapping[str, str]) -> list[Finding]:
    findings = _probe_database(config, env)
    if config.state.url and database_display(config) != config.state.url:
        text = "holds a literal password: use a ${NAME} placeholder or PGPASSWORD"
        findings.append(Finding("warn", "state.url", text))
    return findings


def _probe_database(config: Config, env: Mapping[str, str]) -> list[Finding]:
    from mrt.store.db import open_database, write_transaction
    from mrt.store.empty_file import inspect_empty
    from mrt.store.migrations import LATEST, schema_version

    shown = database_display(config)
    try:
        target = database_target(config, env)
    except MrtError as exc:
        return [Finding("error", "database", f"{shown}: {exc}")]
    if not config.state.url:
        path = Path(target)
        if not path.exists():
            parent = next(p for p in path.parents if p.exists())
            if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK):
                return [
                    Finding("ok", "database", f"{shown} (does not exist yet: created on first run)")
                ]
            return [
                Finding(
                    "error",
                    "database",
                    f"{shown}: cannot be created ({parent} is not writable)",
                    False,
                )
            ]
        backups = Path(config.state.backup_dir).expanduser() if config.state.backup_dir else None
        empty = inspect_empty(path, backups)
        if empty is not None:  # SQLite would silently take it as a new database
            status: Status = "error" if empty.refuse else "warn"
            return [Finding(status, "database", empty.message(), False)]
        if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK | os.X_OK):
            # WAL needs its -wal and -shm files next to the database
            text = f"{shown}: not writable (the file or its directory is read-only)"
            return [Finding("error", "database", text, False)]
    try:
        db = open_database(target, busy_timeout_ms=config.state.busy_timeout_ms)
    except MrtError as exc:
        text = scrub(str(exc).replace(target, shown), env, config)
        return [Finding("error", "database", text, False)]
    except peewee.DatabaseError as exc:  # open_database lets "file is not a database" through
        return [Finding("error", "database", f"{shown}: {scrub(str(exc), env, config)}", False)]
    try:
        version = schema_version(db)
        with write_transaction(db):
            pass  # BEGIN IMMEDIATE takes the write lock and lets it go: a writer could start
        legacy = version == 0 and db.table_exists("seen_events")
    except peewee.DatabaseError as exc:
        return [Finding("error", "database", f"{shown}: {scrub(str(exc), env, config)}", False)]
    finally:
        db.close()
    if version == LATEST:
        return [
            Finding("ok", "database", f"{shown} (writable, schema version {version}, the latest)")
        ]
    if version > LATEST:
        text = f"{shown}: schema version {version} is newer than this MRT knows ({LATEST}): upgrade MRT"
        return [Finding("error", "database", text, False)]
    kind = "a v0 state database" if legacy else f"schema version {version}"
    text = f"{shown} (writable; {kind}: the worker migrates it to version {LATEST} on start, "
    return [Finding("warn", "database", text + _before_migration(config, shown) + ")")]


def _before_migration(config: Config, shown: str) -> str:
    """What happens to the data before the worker migrates it, truthfully per database kind."""
    from mrt.store.backup import configured_backup_dir

    if config.state.url:
        return (
            "but PostgreSQL is not backed up automatically: take a backup first with "
            "`mrt db backup mrt-before-upgrade.dump` (pg_dump's custom format)"
        )
    where = configured_backup_dir(config.state.backup_dir)
    return f"after a backup into {where or Path(shown).parent} (state.backup_dir)"


def probe_secrets(config: Config, env: Mapping[str, str]) -> list[Finding]:
    findings = [
        Finding(
            "error" if req.required else "warn",
            f"env {req.name}",
            describe_missing(req).removeprefix(f"{req.name} is "),
        )
        for req in missing_requirements(config, env)
    ]
    seen: set[str] = set()
    for req in env_requirements(config):
        if env.get(req.name) and req.name not in seen:
            seen.add(req.name)
            findings.append(Finding("ok", f"env {req.name}", f"set ({req.field})"))
    return findings


@contextmanager
def _apprise_quiet() -> Iterator[None]:
    """Apprise logs the URLs it cannot parse; they may hold secrets."""
    logger = logging.getLogger("apprise")
    before = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = before


def _apprise_parse(url: str) -> str | None:
    """The privacy form of `url` if Apprise understands it, else None.

    Parsed the way the worker builds its targets: with our WeLink plugin registered and a
    robot's webhook URL mapped onto welink:// (else every WeLink channel would fail the check).
    """
    import apprise

    from mrt.delivery.welink import is_welink_webhook, register_welink, webhook_to_welink_url
    from mrt.secrets import mask_privacy_url

    register_welink()
    if is_welink_webhook(url):
        url = webhook_to_welink_url(url)
    with _apprise_quiet():
        bundle = apprise.Apprise()
        if not bundle.add(url):
            return None
        plugin: Any = bundle[0]  # apprise is untyped
        shown: str = mask_privacy_url(plugin.url(privacy=True))  # nothing of a token
    # privacy form hides what Apprise knows to be secret, not a secret path of a json:// URL
    scheme, _, rest = shown.partition("://")
    host, slash, _ = rest.partition("/")
    return f"{scheme}://{host}/…" if slash else f"{scheme}://{host}"


def _apprise_reason(url: str) -> str | None:
    """Why the plugin refused `url` (its own words, secrets removed), if it said."""
    import apprise

    from mrt.secrets import scrub as scrub_secrets

    with _apprise_quiet():
        try:
            apprise.Apprise.instantiate(url, suppress_exceptions=False)
        except Exception as exc:  # the plugin's validation error: any type
            return scrub_secrets(str(exc), [url]) or None
    return None


def _scheme_only(url: str) -> str:
    return url.split("://", 1)[0] + "://…" if "://" in url else "…"


def probe_channels(config: Config, env: Mapping[str, str]) -> list[Finding]:
    findings: list[Finding] = []
    plugins = channel_plugins()
    for name, channel in config.channels.items():
        where = f"channels.{name}"
        if channel.welink_robot is not None or channel.smtp is not None:
            continue  # v0's notify sections: probed below under their own names
        if channel.type not in plugins:
            installed = ", ".join(sorted(plugins)) or "none"
            hint = did_you_mean(channel.type, plugins)
            text = f"no channel plugin named {channel.type!r}{hint} (installed: {installed})"
            findings.append(Finding("error", where, text))
            # its URLs are still checked: every problem in one run
        if channel.type != "apprise" and channel.type in plugins and (
            channel.urls or channel.url_env
        ):
            findings += _probe_plugin_targets(name, channel, plugins[channel.type], env, config)
            continue
        urls = [
            (f"{where}.urls[{i}]", u, bool(placeholders(u))) for i, u in enumerate(channel.urls)
        ]
        urls += [
            (f"{where}.url_env[{i}]", f"${{{e}}}", True) for i, e in enumerate(channel.url_env)
        ]
        for what, template, from_env in urls:
            missing = [n for n in placeholders(template) if not env.get(n)]
            if missing:
                findings.append(
                    Finding("warn", what, f"not checked: {', '.join(missing)} is not set")
                )
                continue
            url = expand_placeholders(template, env)
            shown = _apprise_parse(url)
            shown = None if shown is None else scrub(shown, env, config)
            if shown is None:
                text = f"{_scheme_only(url)}: Apprise does not understand this URL"
                reason = _apprise_reason(url)
                text += f": {scrub(reason, env, config)}" if reason else ""
                findings.append(Finding("error", what, text))
            elif not from_env and ("..." in shown or "***" in shown):
                text = (
                    f"{shown}: holds a secret in the file; move it to the environment (${{NAME}})"
                )
                findings.append(Finding("warn", what, text))
            elif problem := _vendor_problem(url, plugins):
                findings.append(Finding("error", what, f"{shown}: {scrub(problem, env, config)}"))
            else:
                findings.append(Finding("ok", what, f"parses ({shown})"))
        if not urls and channel.type in plugins:
            findings.append(Finding("ok", where, f"{channel.type} channel"))
    findings += _probe_welink(config, env) + _probe_email(config)
    if not config.channel_names():
        findings.append(Finding("warn", "channels", "none configured: alerts are stored, not sent"))
    return findings


def _vendor_problem(url: str, plugins: Mapping[str, Any]) -> str | None:
    """What the plugin that sends this URL's kind (dingtalk://: MRT's DingTalk plugin) finds
    wrong with it, beyond what Apprise parses (a mention option that is not an id)."""
    plugin = plugins.get(url.split("://", 1)[0].lower()) if "://" in url else None
    check = getattr(plugin, "check", None)
    if check is None:
        return None
    try:
        check(url)
    except ConfigError as exc:
        return exc.message
    return None


def _probe_plugin_targets(
    name: str, channel: ChannelConfig, plugin: Any, env: Mapping[str, str], config: Config
) -> list[Finding]:
    """A channel of a plugin's own type (dingtalk, slack, ...): the plugin reads its URLs."""
    where = f"channels.{name}"
    try:
        found = plugin.targets(name, channel, env)
    except MissingSecretError as exc:
        return [Finding("warn", where, f"not checked: {scrub(str(exc), env, config)}")]
    except ConfigError as exc:
        return [Finding("error", where, scrub(str(exc), env, config))]
    return [
        Finding("ok", where, f"{channel.type} target parses ({scrub(t.key, env, config)})")
        for t in found
    ]


def _probe_welink(config: Config, env: Mapping[str, str]) -> list[Finding]:
    return [
        f
        for channel in config.channels.values()
        if channel.welink_robot is not None
        for f in _probe_robot(channel.welink_robot, env)
    ]


def _probe_robot(welink: WeLinkRobot, env: Mapping[str, str]) -> list[Finding]:
    value = env.get(welink.webhook_env)
    if not value:
        return []  # reported by the secrets probe
    where = "notify.welink"
    try:
        parts = urlsplit(value.strip())
        query = parse_qs(parts.query)
    except ValueError:
        parts, query = urlsplit(""), {}
    if parts.scheme not in ("http", "https") or not parts.hostname:
        text = f"{welink.webhook_env} does not hold an https:// webhook URL"
        return [Finding("error", where, text)]
    if "token" not in query or "channel" not in query:
        text = f"{welink.webhook_env} has no token or channel parameter (WeLink needs both)"
        return [Finding("error", where, text)]
    try:  # the port is part of where it goes (a gateway on :8443 is another endpoint)
        host = f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
    except ValueError:
        text = f"{welink.webhook_env} has a port that is not a number"
        return [Finding("error", where, text)]
    text = f"webhook URL from {welink.webhook_env} parses ({parts.scheme}://{host}/…)"
    return [Finding("ok", where, text)]


def _probe_email(config: Config) -> list[Finding]:
    return [
        Finding(
            "ok",
            "notify.email",
            f"SMTP {email.smtp_host}:{email.smtp_port}, {len(email.to_list)} recipient(s)",
        )
        for email in (c.smtp for c in config.channels.values())
        if email is not None
    ]


def probe_sources(config: Config) -> list[Finding]:
    enabled = [name for name, s in config.sources.items() if s.enabled]
    findings = [
        Finding("error", f"sources.{name}.ca_bundle", f"{s.ca_bundle}: no such file")
        for name, s in config.sources.items()
        if s.enabled and s.ca_bundle and not Path(s.ca_bundle).expanduser().is_file()
    ]
    findings += [Finding("warn", f"sources.{name}", text)
                 for name, s in config.sources.items() if s.enabled
                 for text in section_warnings(s.type or name, s)]
    if not enabled:
        return [*findings, Finding("warn", "sources", "none enabled: nothing is watched")]
    return [Finding("ok", "sources", ", ".join(enabled)), *findings]


def probe_rules(config: Config) -> list[Finding]:
    """The rules compile (the rules engine owns their fields; the error names the rule)."""
    from mrt.errors import ConfigError
    from mrt.rules import compile_rules

    try:
        ruleset = compile_rules(config)
    except ConfigError as exc:
        return [Finding("error", "rules", str(exc))]
    rules, keywords = len(config.explicit_rules()), config.watch_keyword_count()
    text = f"{rules} rule(s), {keywords} watch keyword(s); "
    text += f"version {ruleset.digest[:12]}"
    return [Finding("ok", "rules", text)]


def probe_all(config: Config, env: Mapping[str, str]) -> list[Finding]:
    from mrt.commands._ai import probe_ai  # it builds on Finding
    from mrt.commands._budget import probe_budgets  # it builds on Finding

    return (
        probe_sources(config)
        + probe_budgets(config, env)
        + probe_rules(config)
        + probe_database(config, env)
        + probe_secrets(config, env)
        + probe_channels(config, env)
        + probe_ai(config, env)
    )

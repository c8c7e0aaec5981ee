"""Which environment variables a config needs, and what is lost without each.

Secrets only ever come from variables the config names (`token_env`, `webhook_env`, `url_env`,
`${NAME}` placeholders). This module lists them and checks them against an environment; it never
returns or prints a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mrt.config.checks import PLACEHOLDER, placeholders
from mrt.config.models import Config
from mrt.plugins import missing_token_cost


@dataclass(frozen=True, slots=True)
class EnvRequirement:
    name: str  # the environment variable
    required: bool
    field: str  # where the config names it: sources.github.token_env
    when_missing: str  # what is lost without it


def _token_cost(plugin: str, name: str, *, own_host: bool) -> str:
    """What polling without the token costs, as the source plugin says it (its
    MISSING_TOKEN_COST); a base_url'd server has its own limits."""
    cost = None if own_host else missing_token_cost(plugin)
    if cost:
        return f"without {name} {cost}"
    return f"without {name} the source polls anonymously: private items unseen, lower rate limits"


def env_requirements(config: Config) -> list[EnvRequirement]:
    """Every environment variable the config refers to, in the order of the file's sections."""
    reqs: list[EnvRequirement] = []
    if config.state.url:
        for name in placeholders(config.state.url):
            reqs.append(EnvRequirement(name, True, "state.url", "the database URL cannot be built"))
    for section_name, section in config.sources.items():
        if section.token_env and section.enabled:
            reqs.append(
                EnvRequirement(
                    section.token_env,
                    False,
                    f"sources.{section_name}.token_env",
                    _token_cost(
                        section.type or section_name,
                        section.token_env,
                        own_host=section.base_url is not None,
                    ),
                )
            )
    described = [c for c in config.channels.values() if c.welink_robot or c.smtp]
    for welink in (c.welink_robot for c in described if c.welink_robot is not None):
        reqs.append(
            EnvRequirement(
                welink.webhook_env,
                True,
                "notify.welink.webhook_env",
                "nothing can be sent to WeLink (the variable holds the robot's webhook URL)",
            )
        )
    for email in (c.smtp for c in described if c.smtp is not None):
        for key in ("user_env", "password_env"):
            name = getattr(email, key)
            if name:
                reqs.append(
                    EnvRequirement(
                        name, True, f"notify.email.{key}", "the SMTP login fails: no email is sent"
                    )
                )
    for channel_name, channel in config.channels.items():
        for i, url in enumerate(channel.urls):
            for name in placeholders(url):
                reqs.append(
                    EnvRequirement(
                        name,
                        True,
                        f"channels.{channel_name}.urls[{i}]",
                        f"the channel {channel_name!r} cannot send",
                    )
                )
        for i, name in enumerate(channel.url_env):
            reqs.append(
                EnvRequirement(
                    name,
                    True,
                    f"channels.{channel_name}.url_env[{i}]",
                    f"the channel {channel_name!r} cannot send",
                )
            )
    if config.webhooks.github is not None:
        reqs.append(
            EnvRequirement(
                config.webhooks.github.secret_env,
                True,
                "webhooks.github.secret_env",
                "GitHub's webhook deliveries cannot be verified, so mrt-worker does not start",
            )
        )
    if config.ai.enabled and config.ai.api_key_env:
        reqs.append(
            EnvRequirement(
                config.ai.api_key_env, True, "ai.api_key_env", "the AI enhancements cannot run"
            )
        )
    return reqs


def missing_requirements(config: Config, env: Mapping[str, str]) -> list[EnvRequirement]:
    """The requirements whose variable is unset or empty, one per name (required wins)."""
    reqs = env_requirements(config)
    required_names = {r.name for r in reqs if r.required}
    missing: list[EnvRequirement] = []
    reported: set[str] = set()
    for req in reqs:
        if env.get(req.name) or req.name in reported:
            continue
        if not req.required and req.name in required_names:
            continue
        reported.add(req.name)
        missing.append(req)
    return missing


def describe_missing(req: EnvRequirement) -> str:
    kind = f"required by {req.field}" if req.required else f"optional, {req.field}"
    return f"{req.name} is not set ({kind}): {req.when_missing}"


def check_secrets(config: Config, env: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """(errors, warnings): one line per missing variable, naming it and what it costs.

    A variable set to the empty string counts as missing. Values are never part of a message.
    """
    missing = missing_requirements(config, env)
    errors = [describe_missing(r) for r in missing if r.required]
    warnings = [describe_missing(r) for r in missing if not r.required]
    return errors, warnings


def secret_values(config: Config, env: Mapping[str, str]) -> list[str]:
    """What log scrubbing must know, never printed: the values of every variable the config
    names, and each configured URL as it is sent (placeholders expanded), so that the scrubber
    also knows the secret parts of a URL written in the file (mrt.secrets)."""
    values = [env[r.name] for r in env_requirements(config) if env.get(r.name)]
    urls = [url for channel in config.channels.values() for url in channel.urls]
    urls += [config.state.url] if config.state.url else []
    for url in urls:
        values.append(PLACEHOLDER.sub(lambda m: env.get(m[1]) or m[0], url))
    return values

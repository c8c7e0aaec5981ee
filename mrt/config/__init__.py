"""The config: one package, one entrance. Import from `mrt.config`, never from its modules.

    models   the typed config (v1; a v0 file is translated to it by the loader, once)
    load     discovery, JSON/TOML parsing, size and depth caps, validation, `database_target`
    v0       what v0 accepted, read as v0 read it, with warnings for unwise values
    refs     references between sections (a rule naming a channel that does not exist)
    checks   field checks (cron, time zone, URL, environment names)
    errors   human error lines (`format_errors`) and the ConfigError tree's InvalidConfig
    secrets  which environment variables the config needs, and their values to scrub
    limits   the size and nesting caps on a config file
    schema   the JSON Schema, generated from the same models (imported on use: it needs the
             rule models, which need these)

Nothing past the loader sees a v0 shape; `mrt check`'s probing lives with the command
(mrt/commands/_probe.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType

from mrt.config.checks import placeholders
from mrt.config.errors import ConfigProblem, InvalidConfig, did_you_mean, format_errors
from mrt.config.load import (
    LoadedConfig,
    config_from_dict,
    config_search_paths,
    config_with_warnings,
    database_display,
    database_target,
    default_config,
    expand_placeholders,
    find_config_file,
    load_config,
    load_config_with_warnings,
    parse_config_text,
    user_config_dir,
)
from mrt.config.models import (
    WATCH_KEYWORDS,
    AggregationConfig,
    AiConfig,
    ChannelConfig,
    Config,
    DeliveryConfig,
    DigestConfig,
    EmailV0,
    HttpConfig,
    NotifyV0,
    ObservabilityConfig,
    RateConfig,
    RuleConfig,
    ScheduleConfig,
    SmtpMail,
    SourceSection,
    StateConfig,
    Strict,
    WeLinkRobot,
    WeLinkV0,
)
from mrt.config.secrets import (
    EnvRequirement,
    check_secrets,
    describe_missing,
    env_requirements,
    missing_requirements,
    secret_values,
)
from mrt.config.v0 import ConfigWarning, default_sender


def config_json_schema_text(plugins: Mapping[str, ModuleType] | None = None) -> str:
    """The JSON Schema of the config file, rules included, with each source plugin's section
    (`mrt config schema`). The schema module is imported here, on use: it needs the rule models,
    which import the config models."""
    from mrt.config.schema import config_json_schema_text as schema_text

    return schema_text(plugins)


__all__ = [
    "WATCH_KEYWORDS",
    "AggregationConfig",
    "AiConfig",
    "ChannelConfig",
    "Config",
    "ConfigProblem",
    "ConfigWarning",
    "DeliveryConfig",
    "DigestConfig",
    "EmailV0",
    "EnvRequirement",
    "HttpConfig",
    "InvalidConfig",
    "LoadedConfig",
    "NotifyV0",
    "ObservabilityConfig",
    "RateConfig",
    "RuleConfig",
    "ScheduleConfig",
    "SmtpMail",
    "SourceSection",
    "StateConfig",
    "Strict",
    "WeLinkRobot",
    "WeLinkV0",
    "check_secrets",
    "config_from_dict",
    "config_json_schema_text",
    "config_search_paths",
    "config_with_warnings",
    "database_display",
    "database_target",
    "default_config",
    "default_sender",
    "describe_missing",
    "did_you_mean",
    "env_requirements",
    "expand_placeholders",
    "find_config_file",
    "format_errors",
    "load_config",
    "load_config_with_warnings",
    "missing_requirements",
    "parse_config_text",
    "placeholders",
    "secret_values",
    "user_config_dir",
]

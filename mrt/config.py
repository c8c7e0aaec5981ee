"""The typed config: v0 JSON runs unchanged, v1 adds sections; JSON and TOML both load.

Shape (v1; every v0 key keeps its v0 meaning):

    poll_interval_seconds   default interval of every source (v0)
    watch_keywords          v0: one keyword rule notifying every channel
    state                   sqlite_path (v0) | url (postgresql://...)
    sources.<name>          one section per source plugin (`type` defaults to the name):
                            the plugin's own fields + schedule/base_url/backfill (SourceSection)
    notify.welink/.email    v0 sections; become the channels "welink" and "email"
    channels.<name>         urls / url_env: Apprise URLs, each a delivery target
    delivery                senders, retries, spacing, cursor_policy
    rules, digests, aggregation, observability, ai
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Strict(BaseModel):
    """Unknown keys are errors (with a "did you mean"), never silently ignored as in v0."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class StateConfig(Strict):
    sqlite_path: str | None = None  # v0 key; None -> the user data directory
    url: str | None = None  # postgresql://user@host/db (password through env: PGPASSWORD)
    busy_timeout_ms: int = Field(10_000, ge=0)
    backup_dir: str | None = None  # where automatic pre-migration backups go


class ScheduleConfig(Strict):
    """How often one source is polled; cron wins over interval when both are given."""

    interval_seconds: int | None = Field(None, ge=10)
    cron: str | None = None  # validated with croniter
    timezone: str = "UTC"
    jitter_seconds: int = Field(0, ge=0)


class SourceSection(Strict):
    """Fields every source section has; plugins subclass it with their own.

    `backfill`: "none" (default: the first poll records a baseline and alerts nothing, as in v0)
    or "since YYYY-MM-DD" (alert what changed since that date on the first poll).
    """

    type: str | None = None
    enabled: bool = True
    base_url: str | None = None
    ca_bundle: str | None = None
    token_env: str | None = None
    interval_seconds: int | None = Field(None, ge=10)
    cron: str | None = None
    timezone: str = "UTC"
    jitter_seconds: int = Field(0, ge=0)
    backfill: str = "none"
    timeout_seconds: float = Field(30.0, gt=0)
    cursor_policy: Literal["strict", "best-effort"] | None = None


class WeLinkV0(Strict):
    webhook_env: str = "WELINK_WEBHOOK_URL"
    is_at: bool | None = None  # v0: defaults to "at_accounts is not empty"
    is_at_all: bool = False
    at_accounts: list[str] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _default_is_at(self) -> WeLinkV0:
        if self.is_at is None:
            object.__setattr__(self, "is_at", bool(self.at_accounts))
        return self


class EmailV0(Strict):
    smtp_host: str
    smtp_port: int = Field(587, ge=1, le=65535)
    user_env: str | None = None
    password_env: str | None = None
    to_list: list[str] = Field(min_length=1)
    from_addr: str | None = None
    use_tls: bool = True


class NotifyV0(Strict):
    welink: WeLinkV0 | None = None
    email: EmailV0 | None = None


class ChannelConfig(Strict):
    """A named channel: one or more Apprise URLs, each its own delivery target.

    `urls` may hold `${ENV_NAME}` placeholders (expanded from the environment at send time);
    `url_env` names variables that hold whole URLs. A secret never sits in the file.
    """

    type: str = "apprise"
    urls: list[str] = Field(default_factory=list)
    url_env: list[str] = Field(default_factory=list)
    template: str | None = None  # Jinja2 source (sandboxed) or "file:relative/path.j2"
    title_template: str | None = None
    min_interval_seconds: float | None = Field(None, ge=0)  # per-target spacing override
    max_length: int | None = Field(None, ge=50)

    @field_validator("url_env", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class DeliveryConfig(Strict):
    senders: int = Field(4, ge=1, le=64)
    max_attempts: int = Field(12, ge=1)
    max_age_seconds: int = Field(24 * 3600, ge=60)
    backoff_base_seconds: float = Field(5.0, gt=0)
    backoff_max_seconds: float = Field(1800.0, gt=0)
    lease_seconds: int = Field(120, ge=5)
    min_interval_seconds: float = Field(3.0, ge=0)  # per target: robots allow ~20 a minute
    send_timeout_seconds: float = Field(20.0, gt=0)
    cursor_policy: Literal["strict", "best-effort"] = "strict"
    shutdown_grace_seconds: float = Field(20.0, ge=0)


class RuleConfig(BaseModel):
    """One named rule; its conditions and actions are validated by mrt.rules."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str


class DigestConfig(Strict):
    cron: str
    timezone: str = "UTC"
    channels: list[str] = Field(default_factory=list)
    max_items: int = Field(50, ge=1)


class AggregationConfig(Strict):
    window_minutes: int = Field(0, ge=0)  # 0: off
    group_by: list[str] = Field(default_factory=lambda: ["source", "resource_id", "event_type"])
    dedupe_window_minutes: int = Field(0, ge=0)  # same resource updated again: alert once


class ObservabilityConfig(Strict):
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    metrics_listen: str | None = None  # 127.0.0.1:9464 enables the Prometheus endpoint
    retention_days_events: int = Field(90, ge=1)
    retention_days_alerts: int = Field(365, ge=1)
    failure_alert_after: int = Field(5, ge=1)  # consecutive source failures before telling ops
    ops_channels: list[str] = Field(default_factory=list)


class AiConfig(Strict):
    enabled: bool = False
    provider: str | None = None
    api_key_env: str | None = None
    model: str | None = None


SourcesMap = dict[str, Annotated[dict[str, Any], Field()]]


class Config(Strict):
    """The whole config. `sources` holds validated plugin sections after `load_config`."""

    version: int | None = None
    poll_interval_seconds: int = Field(300, ge=10)
    watch_keywords: list[str] = Field(default_factory=list)
    state: StateConfig = Field(default_factory=StateConfig)
    sources: dict[str, SourceSection] = Field(default_factory=dict)
    notify: NotifyV0 = Field(default_factory=NotifyV0)
    channels: dict[str, ChannelConfig] = Field(default_factory=dict)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    rules: list[RuleConfig] = Field(default_factory=list)
    digests: dict[str, DigestConfig] = Field(default_factory=dict)
    aggregation: AggregationConfig = Field(default_factory=AggregationConfig)
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
    ai: AiConfig = Field(default_factory=AiConfig)

    # Where it came from, for messages and relative paths; not a config key.
    source_path: Path | None = Field(None, exclude=True)

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
    http                    contact: added to the User-Agent of every upstream request

The models only; `mrt.config` (the package) is the one entrance to them and to the loader.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from mrt.config import checks as config_checks
from mrt.config.v0 import MAX_INTERVAL_SECONDS

# Plain strings to the code that reads them; checked at load so mistakes surface in `mrt check`.
EnvName = Annotated[str, AfterValidator(config_checks.env_name)]
CronExpr = Annotated[str, AfterValidator(config_checks.cron)]
TimeZoneName = Annotated[str, AfterValidator(config_checks.timezone)]
BaseUrl = Annotated[str, AfterValidator(config_checks.http_url)]
ChannelUrl = Annotated[str, AfterValidator(config_checks.channel_url)]
DatabaseUrl = Annotated[str, AfterValidator(config_checks.database_url)]
SqliteFile = Annotated[str, AfterValidator(config_checks.sqlite_file)]
EmailAddress = Annotated[str, AfterValidator(config_checks.email_address)]
Keyword = Annotated[str, Field(min_length=1)]


class Strict(BaseModel):
    """Unknown keys are errors (with a "did you mean"), never silently ignored as in v0."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_a_number(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        return value if field is None else config_checks.number_not_bool(value, field.annotation)


class StateConfig(Strict):
    # v0 key; None -> the user data directory
    sqlite_path: SqliteFile | None = Field(None, min_length=1)
    url: DatabaseUrl | None = None  # postgresql://user@host/db (password: PGPASSWORD or ${VAR})
    busy_timeout_ms: int = Field(10_000, ge=0)
    backup_dir: str | None = None  # where automatic pre-migration backups go
    # several workers on one database: a source's poller holds its lease this long (renewed
    # while it polls); a worker that dies gives its sources to the others after it (FLEET.md)
    source_lease_seconds: int = Field(60, ge=2, le=3600)

    @model_validator(mode="after")
    def _one_database(self) -> StateConfig:
        if self.sqlite_path is not None and self.url is not None:
            raise ValueError("either sqlite_path or url, not both: which database did you mean?")
        return self


class ScheduleConfig(Strict):
    """How often one source is polled; cron wins over interval when both are given."""

    interval_seconds: int | None = Field(None, ge=10, le=MAX_INTERVAL_SECONDS)
    cron: CronExpr | None = None
    timezone: TimeZoneName = "UTC"
    jitter_seconds: int = Field(0, ge=0)


class SourceSection(Strict):
    """Fields every source section has; plugins subclass it with their own.

    `backfill`: "none" (default: the first poll records a baseline and alerts nothing, as in v0)
    or "since YYYY-MM-DD" (alert what changed since that date on the first poll).
    """

    type: str | None = None  # the plugin; the loader sets it (default: the section's name)
    enabled: bool = True
    base_url: BaseUrl | None = None  # GitHub Enterprise, a Hugging Face mirror, ...
    ca_bundle: str | None = None
    token_env: EnvName | None = None
    interval_seconds: int | None = Field(None, ge=10, le=MAX_INTERVAL_SECONDS)
    cron: CronExpr | None = None  # wins over interval_seconds
    timezone: TimeZoneName = "UTC"
    jitter_seconds: int = Field(0, ge=0)
    backfill: Annotated[str, AfterValidator(config_checks.backfill)] = "none"
    timeout_seconds: float = Field(30.0, gt=0)
    cursor_policy: Literal["strict", "best-effort"] | None = None


class WeLinkV0(Strict):
    webhook_env: EnvName = "WELINK_WEBHOOK_URL"
    is_at: bool | None = None  # v0: defaults to "at_accounts is not empty"
    is_at_all: bool = False
    at_accounts: list[Keyword] = Field(default_factory=list, max_length=10)  # WeLink's limit

    @model_validator(mode="after")
    def _default_is_at(self) -> WeLinkV0:
        if self.is_at is None:
            object.__setattr__(self, "is_at", bool(self.at_accounts))
        elif self.is_at and not self.at_accounts:
            # the robot rejects or ignores it: the v0 guide says at_accounts must not be empty
            raise ValueError("is_at = true needs at least one user id in at_accounts")
        return self


class EmailV0(Strict):
    smtp_host: str = Field(min_length=1)
    smtp_port: int = Field(587, ge=1, le=65535)
    user_env: EnvName | None = None
    password_env: EnvName | None = None
    to_list: list[EmailAddress] = Field(min_length=1)
    from_addr: EmailAddress | None = None
    use_tls: bool = True


# The same shapes as the typed descriptions of the channels v0's sections become (the names
# the delivery layer uses; the class names stay, as the JSON Schema's $defs name them).
WeLinkRobot = WeLinkV0
SmtpMail = EmailV0


class NotifyV0(Strict):
    welink: WeLinkV0 | None = None
    email: EmailV0 | None = None


def _one_or_many(schema: dict[str, Any]) -> None:
    """JSON Schema of a list field whose validator also takes one item (`url_env = "NAME"`)."""
    many = dict(schema)
    schema.clear()
    schema["anyOf"] = [many["items"], {k: v for k, v in many.items() if k != "title"}]


class RateConfig(Strict):
    """A target's rate budget: a token bucket of `burst` sends that refills `per_minute`."""

    burst: int = Field(ge=1, le=10_000)
    per_minute: float = Field(gt=0, le=100_000)


class ChannelConfig(Strict):
    """A named channel: one or more Apprise URLs, each its own delivery target.

    `urls` may hold `${ENV_NAME}` placeholders (expanded from the environment at send time);
    `url_env` names variables that hold whole URLs. A secret never sits in the file.
    """

    type: str = Field("apprise", min_length=1)  # the channel plugin (`mrt.channels` entry point)
    urls: list[ChannelUrl] = Field(default_factory=list)
    url_env: list[EnvName] = Field(default_factory=list, json_schema_extra=_one_or_many)
    template: str | None = None  # Jinja2 source (sandboxed) or "file:relative/path.j2"
    title_template: str | None = None
    min_interval_seconds: float | None = Field(None, ge=0)  # per-target spacing override
    # each target's budget (default: its vendor's, mrt/delivery/budget.py); `rates` by URL
    # index (urls first, then url_env) gives one target of several a budget of its own
    rate: RateConfig | None = None
    rates: dict[int, RateConfig] = Field(default_factory=dict)
    max_length: int | None = Field(None, ge=50)
    # v0's notify.welink / notify.email, translated by Config into the channels "welink" and
    # "email": the typed description the delivery layer builds the same target from as v0 did
    # (secrets stay names of environment variables). Set only by that translation: the loader
    # refuses them in a file, and the JSON Schema does not offer them.
    welink_robot: SkipJsonSchema[WeLinkV0 | None] = None
    smtp: SkipJsonSchema[EmailV0 | None] = None

    @field_validator("url_env", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _has_a_target(self) -> ChannelConfig:
        described = self.welink_robot is not None or self.smtp is not None
        if self.type == "apprise" and not (self.urls or self.url_env or described):
            raise ValueError("an apprise channel needs at least one of urls or url_env")
        count = len(self.urls) + len(self.url_env)
        wrong = sorted(i for i in self.rates if not 0 <= i < count)
        if wrong:
            raise ValueError(
                f"rates: no target number {wrong[0]} (the channel's targets are numbered 0 to "
                f"{count - 1}: urls first, then url_env)"
            )
        return self


class DeliveryConfig(Strict):
    senders: int = Field(4, ge=1, le=64)
    max_attempts: int = Field(12, ge=1)
    max_age_seconds: int = Field(24 * 3600, ge=60)
    backoff_base_seconds: float = Field(5.0, gt=0)
    backoff_max_seconds: float = Field(1800.0, gt=0)
    lease_seconds: int = Field(120, ge=5)
    # Set explicitly: the old fixed spacing per target (no rate budgets). Left out: each target
    # has a rate budget (channels.<name>.rate, else its vendor's documented limit).
    min_interval_seconds: float = Field(3.0, ge=0)
    # A target whose waiting alerts its budget cannot let out within this many seconds gets
    # them in one message that lists them (0: never fold).
    fold_after_seconds: float = Field(60.0, ge=0)
    send_timeout_seconds: float = Field(20.0, gt=0)
    cursor_policy: Literal["strict", "best-effort"] = "strict"
    shutdown_grace_seconds: float = Field(20.0, ge=0)
    # When the worker starts or reloads with rules that differ from the last stored rule
    # version, replay events of the last N hours that no rule delivered then. 0: off.
    rules_change_replay_hours: int = Field(0, ge=0)


WATCH_KEYWORDS = "watch_keywords"  # v0's keyword list, and the name of the rule it becomes


class RuleConfig(BaseModel):
    """One named rule; its conditions and actions are validated by mrt.rules.

    `origin` and `blank_keywords` are set only by the translation of v0's `watch_keywords`
    (Config): "watch_keywords" makes the rule report under that name and keep the rule
    version v0 files had; `blank_keywords` counts the blank entries it ignored. The loader
    refuses both keys in a file; the JSON Schema's rule items do not offer them."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str
    origin: Literal["rules", "watch_keywords"] = "rules"
    blank_keywords: int = 0


def watch_keywords_rule(keywords: list[str]) -> RuleConfig | None:
    """v0's `watch_keywords` as a rule: title and summary, any case, notifying every channel.
    None without a keyword (v0: no keywords, no alerts)."""
    terms = [k for k in keywords if k.strip()]
    if not terms:
        return None
    return RuleConfig(
        name=WATCH_KEYWORDS,
        origin=WATCH_KEYWORDS,
        blank_keywords=len(keywords) - len(terms),
        when={"keywords": {"terms": terms, "word": False, "fields": ["title", "summary"]}},
        notify={},
    )


class DigestConfig(Strict):
    cron: CronExpr
    timezone: TimeZoneName = "UTC"
    channels: list[str] = Field(default_factory=list)
    max_items: int = Field(50, ge=1)


class AggregationConfig(Strict):
    window_minutes: int = Field(0, ge=0)  # 0: off
    group_by: list[str] = Field(default_factory=lambda: ["source", "resource_id", "event_type"])
    dedupe_window_minutes: int = Field(0, ge=0)  # same resource updated again: alert once
    # AI3, lexical: an event similar to one seen this recently joins its cluster, named in
    # details.cluster (group_by: [details.cluster] folds a topic into one message); 0: off
    cluster_window_minutes: int = Field(0, ge=0, le=10_080)
    cluster_threshold: float = Field(0.4, gt=0, le=1)


def _listen(value: str) -> str:
    # HOST:PORT for the worker's /metrics, /healthz and /readyz (worker/metrics.py); port 0
    # asks the system for a free one (the worker logs the address it got)
    host, sep, port = value.strip().rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise config_checks.Expected(
            "HOST:PORT to serve /metrics on, such as '127.0.0.1:9464' (port 0..65535; "
            "'[::1]:9464' for IPv6)"
        )
    return value.strip()


class ObservabilityConfig(Strict):
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # the worker's Prometheus /metrics, /healthz and /readyz (off when unset)
    metrics_listen: Annotated[str, AfterValidator(_listen)] | None = None
    retention_days_events: int = Field(90, ge=1)
    retention_days_alerts: int = Field(365, ge=1)
    # how often the worker prunes by the retention days above (0: only `mrt db prune` does)
    retention_every_minutes: int = Field(60, ge=0)
    failure_alert_after: int = Field(5, ge=1)  # consecutive source failures before telling ops
    ops_channels: list[str] = Field(default_factory=list)


def _contact(value: str) -> str:
    # it goes into every request's User-Agent, inside a comment: visible ASCII only, and no
    # parenthesis or backslash that would end the comment early
    text = value.strip()
    if not text or len(text) > 200 or any(not " " <= c <= "~" or c in "()\\" for c in text):
        raise config_checks.Expected(
            "an email address, a URL or a name such as 'ops@example.com' (printable ASCII "
            "without parentheses or backslashes, at most 200 characters)"
        )
    return text


class HttpConfig(Strict):
    """What every upstream request says about us. `contact` is added to the User-Agent:
    GitHub asks for a way to reach whoever runs a client that misbehaves."""

    contact: Annotated[str, AfterValidator(_contact)] | None = None


class AiConfig(Strict):
    """An OpenAI-compatible endpoint (vLLM, SGLang, Ollama, a cloud API); off by default.

    The keys a file had before (enabled, provider, api_key_env, model) keep their meaning:
    `model` is the chat model, `provider` a label. Nothing leaves the machine unless the file
    names a `base_url`: a file that said `enabled = true` when this did nothing still sends
    nothing (mrt check says so), and a cloud API is never chosen behind the operator's back.
    """

    enabled: bool = False
    provider: str | None = None
    api_key_env: EnvName | None = None  # the key comes from the environment only
    model: str | None = None  # the chat model (summaries, triage)
    base_url: BaseUrl | None = None  # e.g. http://127.0.0.1:8000/v1
    embedding_model: str | None = None
    timeout_seconds: float = Field(20.0, gt=0, le=600)
    max_retries: int = Field(2, ge=0, le=10)  # on 429, 5xx, timeouts and connection errors
    requests_per_minute: int = Field(60, ge=1, le=100_000)  # per endpoint (chat, embeddings)
    max_input_chars: int = Field(4000, ge=200, le=200_000)  # upstream text put in one prompt
    summaries: bool = True  # AI1, when enabled
    summary_wait_seconds: int = Field(60, ge=0, le=3600)  # then the plain text goes out

    def endpoint(self) -> str | None:
        """The base URL requests go to, or None when the file names none."""
        return self.base_url.rstrip("/") if self.base_url else None

    def active(self) -> bool:
        """On, with an endpoint and a chat model to ask: otherwise nothing is sent anywhere."""
        return self.enabled and self.endpoint() is not None and bool(self.model)


class GithubWebhookConfig(Strict):
    """`webhooks.github`: mrt-worker listens for GitHub's webhook deliveries (docs/FLEET.md)."""

    listen: str  # host:port, e.g. "127.0.0.1:8787" (put a TLS proxy in front of it)
    secret_env: EnvName  # the variable holding the webhook's secret (HMAC SHA-256)
    path: str = Field("/github", pattern=r"^/[\x21-\x7e]*$")
    max_body_bytes: int = Field(1_048_576, ge=1024, le=26_214_400)  # GitHub sends <= 25 MB

    @field_validator("listen")
    @classmethod
    def _host_port(cls, listen: str) -> str:
        host, _, port = listen.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{listen!r} is not host:port (e.g. 127.0.0.1:8787)")
        return listen

    @property
    def address(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


class WebhooksConfig(Strict):
    github: GithubWebhookConfig | None = None


SourcesMap = dict[str, Annotated[dict[str, Any], Field()]]


class Config(Strict):
    """The whole config. `sources` holds validated plugin sections after `load_config`."""

    version: Literal[1] | None = None  # absent in v0 files
    # v0 accepted any interval: the loader warns below 10 s and caps above a year (config_v0)
    poll_interval_seconds: int = Field(300, ge=0, le=MAX_INTERVAL_SECONDS)
    watch_keywords: list[Keyword] = Field(default_factory=list)
    state: StateConfig = Field(default_factory=StateConfig)
    sources: dict[str, SourceSection] = Field(default_factory=dict)
    notify: NotifyV0 = Field(default_factory=NotifyV0)
    channels: dict[str, ChannelConfig] = Field(default_factory=dict)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    rules: list[RuleConfig] = Field(default_factory=list)
    digests: dict[str, DigestConfig] = Field(default_factory=dict)
    aggregation: AggregationConfig = Field(default_factory=AggregationConfig)
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    ai: AiConfig = Field(default_factory=AiConfig)
    webhooks: WebhooksConfig = Field(default_factory=WebhooksConfig)

    # Where it came from, for messages and relative paths; not a config key.
    source_path: Path | None = Field(None, exclude=True)

    @model_validator(mode="after")
    def _v0_keywords_as_a_rule(self) -> Config:
        """v0's watch_keywords become the rule "watch_keywords", after the explicit rules, so
        nothing past the loader reads `watch_keywords`."""
        if not self.watch_keywords or any(r.origin == WATCH_KEYWORDS for r in self.rules):
            return self
        implicit = watch_keywords_rule(self.watch_keywords)
        if implicit is not None:
            object.__setattr__(self, "rules", [*self.rules, implicit])
        object.__setattr__(self, "watch_keywords", [])
        return self

    def explicit_rules(self) -> list[RuleConfig]:
        """The rules the file lists under `rules` (without the one v0's keywords became)."""
        return [r for r in self.rules if r.origin == "rules"]

    def watch_keyword_terms(self) -> list[str]:
        """The keywords of the rule v0's `watch_keywords` became (blank entries left out)."""
        return [
            term
            for r in self.rules
            if r.origin == WATCH_KEYWORDS and r.model_extra
            for term in r.model_extra["when"]["keywords"]["terms"]
        ]

    def watch_keyword_count(self) -> int:
        """How many v0 `watch_keywords` entries the file has (blank ones included)."""
        blank = sum(r.blank_keywords for r in self.rules if r.origin == WATCH_KEYWORDS)
        return len(self.watch_keyword_terms()) + blank

    @model_validator(mode="after")
    def _v0_notify_as_channels(self) -> Config:
        """v0's notify.welink / notify.email become the channels "welink" and "email", after
        the configured ones, so nothing past the loader reads `notify`. A name both define is
        left as it is: the loader's cross check reports it (`channels.<name>`)."""
        welink, email = self.notify.welink, self.notify.email
        if (welink is not None and "welink" in self.channels) or (
            email is not None and "email" in self.channels
        ):
            return self
        channels = dict(self.channels)
        if welink is not None:
            channels["welink"] = ChannelConfig(welink_robot=welink)
        if email is not None:
            channels["email"] = ChannelConfig(smtp=email)
        if welink is not None or email is not None:
            object.__setattr__(self, "channels", channels)
            object.__setattr__(self, "notify", NotifyV0())
        return self

    def channel_names(self) -> tuple[str, ...]:
        """Every channel a rule may name (v0's notify sections are among them, translated)."""
        return tuple(self.channels)


__all__ = [
    "WATCH_KEYWORDS",
    "AggregationConfig",
    "AiConfig",
    "ChannelConfig",
    "Config",
    "DeliveryConfig",
    "DigestConfig",
    "EmailV0",
    "HttpConfig",
    "NotifyV0",
    "ObservabilityConfig",
    "RuleConfig",
    "ScheduleConfig",
    "SmtpMail",
    "SourceSection",
    "StateConfig",
    "Strict",
    "WeLinkRobot",
    "WeLinkV0",
]

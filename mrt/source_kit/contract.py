"""What a source plugin is, and what it gets and gives on each poll.

A source plugin is a module registered under the `mrt.sources` entry point group (the built-ins
in MRT's pyproject.toml, a third-party one in its own; see docs/PLUGINS.md). It imports MRT only
through `mrt.api` (an import-linter contract and tests/test_source_imports.py hold the built-ins
to that), and it is all MRT knows of its platform:

    Config: type[SourceSection]                    its config section's model
    def instances(name: str, section: Config, config: RootConfig) -> list[SourceSpec]
    async def poll(spec: SourceSpec, ctx: PollContext) -> PollResult

and, each optional, what the other layers ask it through mrt.plugins:

    DISPLAY_NAME: str                      "Hugging Face": messages' `platform` and `where`
    EVENT_WORDS: dict[str, str]            "pr_merged" -> "Pull request merged" in messages
    MISSING_TOKEN_COST: str                what `mrt check` says polling without its token costs
    BUDGETS: dict[str, HostBudget]         per host it knows: what one worker may send there
    ANONYMOUS_BUDGETS: dict[str, HostBudget]  per host: what it documents without a token
                                           (`mrt check` warns when tokenless polls ask more)
    DEFAULT_SECTION: dict[str, Any]        its section of the config MRT runs without a file
    def cursor_since(when: datetime) -> dict[str, Any]    the cursor under which the next poll
        reports what changed after `when`: what `mrt cursor reset --to` stores
    def v0_state(rows) -> dict[str, tuple[dict[str, Any], datetime | None]]    its v0 cursors
        (target, kind, cursor, updated_at) translated to v1 source keys, when a v0 database is
        upgraded
    def watch_paths(spec: SourceSpec) -> list[str]    local directories the daemon watches
        (inotify through `watchfiles`, when installed); a change there asks for the poll now
        (the poll's own scan still makes every event)

`instances` expands one config section into source instances (one per repo, per org, ...), each
with its own key, cursor and schedule. `poll` never writes the database: it reads the previous
snapshots it needs through `ctx.snapshots`, and returns events, new snapshots and the new cursor;
the runner commits all of it in one transaction. A poll that fails raises SourceError (or
RateLimited); it never returns half a result. Its HTTP client (`ctx.http`) is made from plain
settings (SourceSpec.http_settings: timeout, CA bundle, the token its `token_env` names).

One malformed item is not a failed poll: the source returns it in `quarantined` (with the
reason naming the item and the field), goes on with the rest of the page, and moves its cursor
past it. The runner stores it and tells the operators once (mrt/store/quarantine.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mrt.config import SourceSection
from mrt.events import TrackerEvent

if TYPE_CHECKING:
    from mrt.http import ClientSettings, HttpClient


@dataclass(frozen=True, slots=True)
class SourceSpec:
    key: str  # github:vllm-project/vllm: stable, shown everywhere, primary key of its state
    plugin: str  # entry point name: github
    section: str  # config section name under `sources`
    params: Mapping[str, Any]  # what this instance watches: {"repo": "vllm-project/vllm"}
    config: SourceSection  # the validated section (base_url, token_env, schedule, ...)

    def http_settings(self, env: Mapping[str, str]) -> ClientSettings:
        """The plain settings its poll's HTTP client is made from (the token read from `env`)."""
        from mrt.http import ClientSettings

        token_env = self.config.token_env
        return ClientSettings(
            name=self.key,
            timeout_seconds=self.config.timeout_seconds,
            ca_bundle=self.config.ca_bundle,
            token=env.get(token_env) if token_env else None,
            identity=token_env or "",
            # a Config may name its own header (GitLab: PRIVATE-TOKEN, no prefix)
            token_header=getattr(self.config, "TOKEN_HEADER", "Authorization"),
            token_prefix=getattr(self.config, "TOKEN_PREFIX", "Bearer "),
        )


@dataclass(slots=True)
class PollContext:
    http: HttpClient
    now: datetime
    cursor: dict[str, Any] | None  # None on the very first poll (baseline)
    # previous snapshots by resource key; missing keys were never seen
    snapshots: Callable[[Iterable[str]], dict[str, dict[str, Any]]]
    env: Mapping[str, str]

    @property
    def baseline(self) -> bool:
        return self.cursor is None


@dataclass(frozen=True, slots=True)
class Quarantined:
    """One upstream item whose identity or required fields are unusable, kept aside."""

    item_key: str  # stable within the source: "#123", "id:2528623106", "sha256:..."
    reason: str  # 'github:o/r issue #?: field "number": expected an integer, found "abc"'
    raw: dict[str, Any]  # a trimmed copy of the item, its text made valid
    upstream_id: str | None = None  # the upstream's own id, when the item has a usable one
    url: str | None = None  # where a person can see the item upstream


@dataclass(slots=True)
class PollResult:
    events: list[TrackerEvent] = field(default_factory=list)  # in upstream order
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)  # to upsert
    cursor: dict[str, Any] = field(default_factory=dict)
    fetched: int = 0  # items seen upstream this cycle
    degraded: str | None = None  # "fell back to the legacy list endpoint: ..." for health
    quarantined: list[Quarantined] = field(default_factory=list)  # bad items, page went on

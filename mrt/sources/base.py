"""What a source plugin is, and what it gets and gives on each poll.

A source plugin is a module registered under the `mrt.sources` entry point group with:

    Config: type[SourceSection]                    its config section's model
    def instances(name: str, section: Config, config: mrt.config.Config) -> list[SourceSpec]
    async def poll(spec: SourceSpec, ctx: PollContext) -> PollResult
    def cursor_since(when: datetime) -> dict[str, Any]    (optional) the cursor under which the
        next poll reports what changed after `when`: what `mrt cursor reset --to` stores

`instances` expands one config section into source instances (one per repo, per org, ...), each
with its own key, cursor and schedule. `poll` never writes the database: it reads the previous
snapshots it needs through `ctx.snapshots`, and returns events, new snapshots and the new cursor;
the runner commits all of it in one transaction. A poll that fails raises SourceError (or
RateLimited); it never returns half a result.

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

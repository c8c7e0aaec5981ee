"""When a source is next due: an interval or a cron expression, plus jitter.

An interval is never shorter than the source's share of its host's request budget
(`interval_floors`): v0 accepted any `poll_interval_seconds`, and MRT runs a short one as given,
but the sources on one host, one request a cycle each, must stay within what that host allows.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from types import ModuleType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from mrt.config import Config, SourceSection

if TYPE_CHECKING:
    from mrt.http import HostBudget
    from mrt.source_kit.contract import SourceSpec


def next_poll_time(
    section: SourceSection,
    config: Config,
    now: datetime,
    rng: random.Random,
    *,
    floor_seconds: float = 0.0,
) -> datetime:
    """The next due time after `now`; cron (in its time zone) wins over an interval."""
    jitter = (
        timedelta(seconds=rng.uniform(0, section.jitter_seconds))
        if section.jitter_seconds
        else timedelta()
    )
    if section.cron:
        from croniter import croniter  # ~25 ms at import, for the configs that use cron

        local = now.astimezone(ZoneInfo(section.timezone))
        nxt: datetime = croniter(section.cron, local).get_next(datetime)
        return nxt.astimezone(now.tzinfo) + jitter
    interval = section.interval_seconds
    if interval is None:
        interval = config.poll_interval_seconds
    return now + timedelta(seconds=max(float(interval), floor_seconds)) + jitter


def source_host(spec: SourceSpec, plugin: ModuleType | None, env: Mapping[str, str]) -> str | None:
    """The host a source polls: its base_url, else its plugin's (`base_url()` or DEFAULT_BASE)."""
    url = spec.config.base_url
    if url is None and plugin is not None:
        resolve = getattr(plugin, "base_url", None)
        url = (
            resolve(spec.config, env)
            if callable(resolve)
            else getattr(plugin, "DEFAULT_BASE", None)
        )
    return urlsplit(url).hostname if isinstance(url, str) else None


def interval_floors(
    specs: Sequence[SourceSpec],
    plugins: Mapping[str, ModuleType],
    env: Mapping[str, str],
    budget_for: Callable[[str], HostBudget],
) -> dict[str, float]:
    """Per source key, the shortest interval its host's budget allows: the sources on one host
    share its `requests` per `window_seconds`, one request a cycle each at the least."""
    hosts = {spec.key: source_host(spec, plugins.get(spec.plugin), env) for spec in specs}
    sharing = Counter(host for host in hosts.values() if host)
    floors: dict[str, float] = {}
    for key, host in hosts.items():
        if host:
            budget = budget_for(host)
            floors[key] = sharing[host] * budget.window_seconds / max(budget.requests, 1)
    return floors

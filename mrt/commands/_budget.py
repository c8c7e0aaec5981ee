"""`mrt check`'s budget lines: per upstream host, its budget and what the config asks of it.

What the config asks is a lower bound: every source instance on the host, one request per poll
at the least, times its polls in an hour (its interval, or the busiest hour of its cron). A host
whose budget the demand reaches gets a warning saying what to change; so does a host whose
documented tokenless limit (GitHub: 60 an hour) the sources without a token reach.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from mrt.commands._probe import Finding, Status
from mrt.config import Config, SourceSection
from mrt.errors import MrtError
from mrt.http import HostBudget
from mrt.pipeline import build_specs
from mrt.plugins import anonymous_budgets, host_budgets, source_plugins
from mrt.schedule import source_host
from mrt.source_kit.contract import SourceSpec

_CRON_SPAN = timedelta(days=8)  # a week and a day: every weekday's busiest hour is seen
_CRON_FIRES = 20_000  # enough for "* * * * *" over the span


def polls_per_hour(section: SourceSection, config: Config, now: datetime) -> float:
    """How often one instance of `section` polls: 3600 / interval, or its cron's busiest hour."""
    if section.cron:
        start = now.astimezone(ZoneInfo(section.timezone))
        fires = croniter(section.cron, start)
        hours: Counter[int] = Counter()
        for _ in range(_CRON_FIRES):
            fire: datetime = fires.get_next(datetime)
            if fire - start > _CRON_SPAN:
                break
            hours[int((fire - start).total_seconds() // 3600)] += 1
        return float(max(hours.values(), default=0))
    interval = section.interval_seconds or config.poll_interval_seconds
    return 3600.0 / max(float(interval), 1.0)


def budget_text(budget: HostBudget) -> str:
    """"1 request every 3 s, 1 at a time", "80 requests a minute, 2 at a time"."""
    window = budget.window_seconds
    if window == 60:
        per = "a minute"
    elif window == 3600:
        per = "an hour"
    else:
        per = f"every {window:g} s"
    noun = "request" if budget.requests == 1 else "requests"
    return f"{budget.requests} {noun} {per}, {budget.concurrency} at a time"


def per_hour(budget: HostBudget) -> float:
    return budget.requests * 3600.0 / budget.window_seconds


def _count(n: float) -> str:
    return f"{n:,.0f}" if n >= 10 else f"{n:,.1f}".removesuffix(".0")


def _has_token(spec: SourceSpec, env: Mapping[str, str]) -> bool:
    name = spec.config.token_env
    return bool(name and env.get(name))


def probe_budgets(
    config: Config, env: Mapping[str, str], now: datetime | None = None
) -> list[Finding]:
    """One line per upstream host the enabled sources poll (none for a local source)."""
    now = now or datetime.now(UTC)
    plugins = source_plugins()
    try:
        specs = build_specs(config, plugins)
    except MrtError:
        return []  # an unknown plugin: the sources probe reports it
    budgets, anonymous = host_budgets(), anonymous_budgets()
    by_host: dict[str, list[SourceSpec]] = {}
    for spec in specs:
        host = source_host(spec, plugins.get(spec.plugin), env)
        if host:
            by_host.setdefault(host, []).append(spec)
    rates = {
        name: polls_per_hour(section, config, now) for name, section in config.sources.items()
    }
    return [
        _host_finding(host, on_host, budgets.get(host, HostBudget()), anonymous.get(host),
                      rates, env)
        for host, on_host in by_host.items()
    ]


def _host_finding(
    host: str,
    specs: list[SourceSpec],
    budget: HostBudget,
    anonymous: HostBudget | None,
    rates: Mapping[str, float],
    env: Mapping[str, str],
) -> Finding:
    sections = Counter(spec.section for spec in specs)
    who = ", ".join(f"{name}: {n} source{'s' if n != 1 else ''}" for name, n in sections.items())
    demand = sum(rates[spec.section] for spec in specs)
    text = f"{budget_text(budget)} ({who}); at these schedules at least {_count(demand)} requests an hour"
    status: Status = "ok"
    allowed = per_hour(budget)
    if demand >= allowed:
        status = "warn"
        floor = len(specs) * budget.window_seconds / max(budget.requests, 1)
        text += (
            f", the budget allows {_count(allowed)}: the worker stretches each interval to "
            f"{floor:g} s; set a longer interval or cron, or watch fewer items on {host}"
        )
    tokenless = [spec for spec in specs if not _has_token(spec, env)]
    if anonymous is not None and tokenless:
        asked = sum(rates[spec.section] for spec in tokenless)
        if asked >= per_hour(anonymous):
            status = "warn"
            names = sorted({spec.config.token_env for spec in tokenless if spec.config.token_env})
            token = " or ".join(names) if names else "a token_env"
            text += (
                f"; without a token {host} allows {_count(per_hour(anonymous))} requests an hour "
                f"and {len(tokenless)} source(s) without one ask at least {_count(asked)}: "
                f"set {token}, a longer interval, or fewer sources"
            )
    return Finding(status, f"budget {host}", text)

"""Each target's rate budget: from the config, else from its vendor's documented limit.

    budgets_for(config, targets) -> {target key: Budget}   (targets that are spaced instead
                                                            are left out: see below)

A budget is a token bucket: `burst` sends at once, refilled `per_minute`. Where a vendor counts
N messages per minute per robot, a bucket of burst B refilled R a minute can let out B + R in
any 60 s, so the defaults keep B + R <= N (10 + 10 for 20 a minute): a burst of alerts never
earns the robot's penalty (DingTalk mutes a robot for 10 minutes past 20 a minute).

| kind | documented limit | default |
|---|---|---|
| dingtalk | 20 a minute per robot | burst 10, 10/min |
| wecombot, wecom | 20 a minute per robot | burst 10, 10/min |
| welink | none published; a group robot like the above, and v0 spaced 3 s (20 a minute) | burst 10, 10/min |
| feishu, lark | 100 a minute and 5 a second per custom bot | burst 4, 50/min |
| slack | about 1 a second per incoming webhook, short bursts allowed | burst 5, 60/min |
| mailto, mailtos | per server, not published: a relay's usual tolerance | burst 10, 30/min, shared per server |
| json, jsons, form, xml, console | the operator's own service | burst 60, 600/min |
| any other | | burst 10, 30/min |

Compatibility: a `min_interval_seconds` set explicitly (in `delivery`, on a channel, or by a
plugin on a target) keeps its old meaning, a fixed spacing per target, and such a target has
no budget; budgets apply where no spacing was asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qs, urlsplit

from mrt.config import ChannelConfig, Config, RateConfig
from mrt.message import Rate, Target
from mrt.store.outbox_claim import Budget

_ROBOT_20 = Rate(burst=10, per_minute=10)
VENDOR_RATES: dict[str, Rate] = {
    "dingtalk": _ROBOT_20,
    "wecombot": _ROBOT_20,
    "wecom": _ROBOT_20,
    "welink": _ROBOT_20,
    "feishu": Rate(burst=4, per_minute=50),
    "lark": Rate(burst=4, per_minute=50),
    "slack": Rate(burst=5, per_minute=60),
}
MAIL_RATE = Rate(burst=10, per_minute=30)
MAIL_KINDS = frozenset({"mailto", "mailtos", "email"})
OWN_SERVICE_RATE = Rate(burst=60, per_minute=600)
OWN_SERVICE_KINDS = frozenset({"json", "jsons", "form", "forms", "xml", "xmls", "console"})
OTHER_RATE = Rate(burst=10, per_minute=30)


def vendor_rate(kind: str) -> Rate:
    kind = kind.lower()
    if kind in MAIL_KINDS:
        return MAIL_RATE
    if kind in OWN_SERVICE_KINDS:
        return OWN_SERVICE_RATE
    return VENDOR_RATES.get(kind, OTHER_RATE)


def _rate(config: RateConfig) -> Rate:
    return Rate(burst=float(config.burst), per_minute=float(config.per_minute))


def spacing_asked(config: Config, channel: str, target: Target) -> bool:
    """True when an explicit min_interval_seconds covers this target (the old spacing)."""
    if "min_interval_seconds" in config.delivery.model_fields_set:
        return True
    section = config.channels.get(channel)
    if section is not None and section.min_interval_seconds is not None:
        return True
    return target.min_interval_seconds is not None


def budget_key(target: Target) -> str:
    """Mail targets share their server's budget (the server is what limits); others their own."""
    if target.kind.lower() in MAIL_KINDS:
        parts = urlsplit(target.url)
        host = parse_qs(parts.query).get("smtp", [""])[0] or parts.hostname or "?"
        return f"mail-server:{host}:{parts.port or ''}"
    return target.key


def rate_for(section: ChannelConfig | None, index: int, target: Target) -> Rate:
    if section is not None and index in section.rates:
        return _rate(section.rates[index])
    if target.rate is not None:
        return target.rate
    if section is not None and section.rate is not None:
        return _rate(section.rate)
    return vendor_rate(target.kind)


def budgets_for(config: Config, targets: Mapping[str, list[Target]]) -> dict[str, Budget]:
    """The budget of every target that is not spaced the old way, by target key (former keys
    too: rows queued under them draw from the same bucket)."""
    found: dict[str, Budget] = {}
    for channel, listed in targets.items():
        section = config.channels.get(channel)
        for index, target in enumerate(listed):
            if spacing_asked(config, channel, target):
                continue
            budget = Budget(budget_key(target), rate_for(section, index, target))
            for key in (target.key, *target.previous_keys):
                found.setdefault(key, budget)
    return found

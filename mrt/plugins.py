"""Source and channel plugins, built-ins included, found through entry points.

A plugin the config names but that is missing is a ConfigError (raised by the config loader);
an installed plugin that fails to import is a warning and is left out.
"""

from __future__ import annotations

import copy
import ipaddress
import logging
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from mrt.http import HostBudget

log = logging.getLogger(__name__)

SOURCES_GROUP = "mrt.sources"
CHANNELS_GROUP = "mrt.channels"


class PluginSet(Mapping[str, ModuleType]):
    """The plugins of one entry-point group, each imported on first use.

    Looking one up (`plugins.get("github")`, `name in plugins`) imports that plugin only: a
    worker whose config names GitHub and a webhook never imports Apprise's or arXiv's modules.
    Iterating imports them all (the caller wants every one). A plugin that fails to import is
    a warning, once, and is left out, as if it were not installed.
    """

    def __init__(self, group: str, points: Iterable[EntryPoint] | None = None) -> None:
        self.group = group
        self._points: dict[str, EntryPoint] = {}
        for ep in _installed().select(group=group) if points is None else points:
            self._points.setdefault(ep.name, ep)
        self._loaded: dict[str, ModuleType] = {}

    def __getitem__(self, name: str) -> ModuleType:
        if name in self._loaded:
            return self._loaded[name]
        ep = self._points[name]  # KeyError: not installed (or it failed to import: below)
        try:
            module: ModuleType = ep.load()
        except Exception as exc:  # a broken third-party plugin must not break MRT
            log.warning("plugin %s:%s failed to import: %s", self.group, name, exc)
            del self._points[name]
            raise KeyError(name) from None
        self._loaded[name] = module
        return module

    def __iter__(self) -> Iterator[str]:
        for name in list(self._points):  # in the entry points' order
            if name in self:
                yield name

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self[name]
        except KeyError:
            return False
        return True

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def loaded(self) -> list[ModuleType]:
        """The plugins imported so far (those looked up), in the order they were."""
        return list(self._loaded.values())


class _ByGroup(Protocol):  # what entry_points() returns: SelectableGroups on 3.11, then EntryPoints
    def select(self, *, group: str) -> Iterable[EntryPoint]: ...


@cache
def _installed() -> _ByGroup:
    """Every installed distribution's entry points, read once: a read per group walks every
    distribution's metadata again (~3 ms each at start-up, sources then channels)."""
    return entry_points()


@cache
def _load(group: str) -> PluginSet:
    return PluginSet(group)


def source_plugins() -> Mapping[str, ModuleType]:
    return _load(SOURCES_GROUP)


def channel_plugins() -> Mapping[str, ModuleType]:
    return _load(CHANNELS_GROUP)


# What other layers ask a source plugin, each with the answer for a plugin that does not say.
# A source module may declare (see mrt/source_kit/contract.py for the whole contract):
#   DISPLAY_NAME: str                    "GitHub": how messages and screens name the platform
#   EVENT_DETAILS: dict[str, tuple]      event type ("*": the rest) -> ((detail key, label), ...)
#                                        the details messages and the console show in one line
#   EVENT_WORDS: dict[str, str]          "pr_merged" -> "Pull request merged" for messages
#   MISSING_TOKEN_COST: str              what polling without its token costs (`mrt check`)
#   BUDGETS: dict[str, HostBudget]       what each host it knows may receive from one worker
#   ANONYMOUS_BUDGETS: dict[str, HostBudget]  what a host documents without a token (`mrt check`)
#   DEFAULT_SECTION: dict[str, Any]      its section in the config MRT runs without a file
#   cursor_since(when) -> dict           the cursor `mrt cursor reset --to` stores
#   check_section(section) -> list[str]  warnings `mrt check` prints for its section
#   v0_state(rows) -> dict               its v0 cursors translated to v1 (database upgrade)


def source_plugin(name: str) -> ModuleType | None:
    return _load(SOURCES_GROUP).get(name)


def display_name(source: str) -> str:
    """The platform's name as people write it: "Hugging Face" for `huggingface`."""
    name = getattr(source_plugin(source), "DISPLAY_NAME", None)
    return name if isinstance(name, str) and name else source.capitalize()


def event_words(source: str, event_type: str) -> str | None:
    """The source's wording of one of its event types ("New pull request"), if it has one."""
    words = getattr(source_plugin(source), "EVENT_WORDS", None)
    found = words.get(event_type) if isinstance(words, dict) else None
    return found if isinstance(found, str) else None


def missing_token_cost(source: str) -> str | None:
    cost = getattr(source_plugin(source), "MISSING_TOKEN_COST", None)
    return cost if isinstance(cost, str) and cost else None


def section_warnings(source: str, section: Any) -> list[str]:
    """What the source finds worth a warning in its section (`mrt check`): a missing path, ..."""
    check = getattr(source_plugin(source), "check_section", None)
    found = check(section) if callable(check) else None
    return [w for w in found if isinstance(w, str)] if isinstance(found, list) else []


def host_budgets() -> dict[str, HostBudget]:
    """Every installed source's budgets for the hosts it knows, by host name (imports every
    source plugin; the worker uses SourceBudgets, which imports none up front)."""
    return _declared(_load(SOURCES_GROUP).values())


class SourceBudgets(Mapping[str, "HostBudget"]):
    """The worker's host budgets, read as each host is first asked for (no import up front).

    A host's budget is what the source plugins already imported declare for it (the config
    loader imports those it names, before any request); a host none of them declares is looked
    up in every installed plugin's table, as `host_budgets()` does (that imports them all, once):
    a `feed` on rss.arxiv.org keeps arXiv's budget. An address (127.0.0.1, ::1) or `localhost`
    is no platform's host name: it gets the pool's default without that import. Iterating is
    `host_budgets()`.
    """

    def __init__(self, plugins: PluginSet | None = None) -> None:
        self._plugins = plugins if plugins is not None else _load(SOURCES_GROUP)
        self._all: dict[str, HostBudget] | None = None

    def __getitem__(self, host: str) -> HostBudget:
        found = _declared(self._plugins.loaded()).get(host)
        if found is not None:
            return found
        if _is_address(host):
            raise KeyError(host)
        return self._every()[host]

    def _every(self) -> dict[str, HostBudget]:
        if self._all is None:
            self._all = _declared(self._plugins[name] for name in self._plugins)
        return self._all

    def __iter__(self) -> Iterator[str]:
        return iter(self._every())

    def __len__(self) -> int:
        return len(self._every())


def _declared(modules: Iterable[ModuleType], attribute: str = "BUDGETS") -> dict[str, HostBudget]:
    from mrt.http import HostBudget  # importing the registry alone does not load httpx

    found: dict[str, HostBudget] = {}
    for module in modules:
        budgets = getattr(module, attribute, None)
        if isinstance(budgets, dict):
            found.update({h: b for h, b in budgets.items() if isinstance(b, HostBudget)})
    return found


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host.lower() == "localhost"
    return True


def anonymous_budgets() -> dict[str, HostBudget]:
    """What each host documents for requests without a token (GitHub: 60 an hour), by host."""
    return _declared(_load(SOURCES_GROUP).values(), "ANONYMOUS_BUDGETS")


def default_sections() -> dict[str, dict[str, Any]]:
    """Each installed source's section of the config MRT runs with when there is no file."""
    found: dict[str, dict[str, Any]] = {}
    for name, module in sorted(_load(SOURCES_GROUP).items()):
        section = getattr(module, "DEFAULT_SECTION", None)
        if isinstance(section, dict):
            found[name] = copy.deepcopy(section)
    return found


def _fact_value(value: Any) -> str:
    """One detail value as a few words: lists joined, booleans yes/no, nothing for empties."""
    if value is None or value == "" or value == [] or value == {}:
        return ""
    if isinstance(value, bool):  # False says little ("Draft: no") and is left out
        return "yes" if value else ""
    if isinstance(value, list | tuple):
        shown = [_fact_value(v) for v in value[:MAX_FACT_ITEMS]]
        more = len(value) - MAX_FACT_ITEMS
        return ", ".join(s for s in shown if s) + (f" (+{more})" if more > 0 else "")
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fact_value(v)}" for k, v in list(value.items())[:MAX_FACT_ITEMS])
    return str(value).strip()


MAX_FACT_ITEMS = 5


def detail_facts(source: str, event_type: str, details: Any) -> list[tuple[str, str]]:
    """(label, value) of the details the source names for this event type (its EVENT_DETAILS:
    event type, or "*" for the rest -> ordered (detail key, label) pairs), empties left out.
    The values are raw upstream text: every caller cleans them for its own output."""
    table = getattr(source_plugin(source), "EVENT_DETAILS", None)
    if not isinstance(table, dict) or not isinstance(details, dict):
        return []
    wanted = table.get(event_type, table.get("*"))
    if not isinstance(wanted, list | tuple):
        return []
    facts: list[tuple[str, str]] = []
    for pair in wanted:
        if not (isinstance(pair, tuple | list) and len(pair) == 2):
            continue
        key, label = pair
        value = _fact_value(details.get(key)) if isinstance(key, str) else ""
        if value and isinstance(label, str):
            facts.append((label, value))
    return facts

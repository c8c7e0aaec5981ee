"""Source and channel plugins, built-ins included, found through entry points.

A plugin the config names but that is missing is a ConfigError (raised by the config loader);
an installed plugin that fails to import is a warning and is left out.
"""

from __future__ import annotations

import logging
from functools import cache
from importlib.metadata import entry_points
from types import ModuleType

log = logging.getLogger(__name__)

SOURCES_GROUP = "mrt.sources"
CHANNELS_GROUP = "mrt.channels"


@cache
def _load(group: str) -> dict[str, ModuleType]:
    found: dict[str, ModuleType] = {}
    for ep in entry_points(group=group):
        try:
            found[ep.name] = ep.load()
        except Exception as exc:  # a broken third-party plugin must not break MRT
            log.warning("plugin %s:%s failed to import: %s", group, ep.name, exc)
    return found


def source_plugins() -> dict[str, ModuleType]:
    return dict(_load(SOURCES_GROUP))


def channel_plugins() -> dict[str, ModuleType]:
    return dict(_load(CHANNELS_GROUP))

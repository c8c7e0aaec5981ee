"""File system notifications wake a source's poll early (inotify, FSEvents, ReadDirectoryChanges
through `watchfiles`).

A source plugin that reads the local disk names its paths with the optional hook
`watch_paths(spec) -> list[str]`. While the daemon runs, this task watches the paths of every
configured source whose plugin has the hook; once a watched tree has been quiet for QUIET_MS
after a change (at most BURST_MS after the first change of a burst: a long copy still wakes it
now and then), it asks for that source's poll by the one "poll now" mechanism, the source's
`poll_requested_at`, which the scheduler serves on its next turn. The poll's scan stays the only
thing that makes events: nothing here reads what changed. It uses the store's request_poll, not
mrt.ops.sources.poll_now: an automatic wake-up is not an operator's action and would flood the
audit log.

Without `watchfiles`, or when the watch fails (an unsupported file system, too many watches),
it says so once and returns: the scheduled scans go on as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from types import ModuleType

from mrt.source_kit.contract import SourceSpec
from mrt.store import sources as source_store

log = logging.getLogger("mrt.worker")

QUIET_MS = 2000  # a change is acted on once its tree has been quiet this long
BURST_MS = 60_000  # ... or this long after the first change of a burst
RECHECK_MS = 1000  # how often the watch looks whether a reload changed the watched paths


def watched_paths(
    specs: Iterable[SourceSpec], plugins: Mapping[str, ModuleType]
) -> dict[str, list[str]]:
    """Each existing directory to watch, with the keys of the sources it wakes (a path that
    does not exist yet is left to the scheduled polls, which report it)."""
    paths: dict[str, list[str]] = {}
    for spec in specs:
        hook = getattr(plugins.get(spec.plugin), "watch_paths", None)
        if hook is None:
            continue
        for path in hook(spec):
            if os.path.isdir(path):
                paths.setdefault(os.path.abspath(path), []).append(spec.key)
    return paths


def woken_keys(changed: Iterable[str], paths: Mapping[str, list[str]]) -> set[str]:
    """The sources whose watched tree holds one of the changed paths."""
    keys: set[str] = set()
    for name in changed:
        for root, root_keys in paths.items():
            if name == root or name.startswith(root.rstrip(os.sep) + os.sep):
                keys.update(root_keys)
    return keys


async def watch_sources(
    current: Callable[[], tuple[list[SourceSpec], Mapping[str, ModuleType]]],
    stop: asyncio.Event,
    now: Callable[[], datetime],
) -> None:
    """Until `stop`: watch what `current()` (the running config's specs and plugins) names,
    again after a reload changed it, and request the poll of each source whose tree changed."""
    try:
        import watchfiles
    except ImportError:
        log.info("watchfiles is not installed: local directories are scanned at their "
                 "scheduled polls only")
        return
    while not stop.is_set():
        specs, plugins = current()
        paths = watched_paths(specs, plugins)
        if not paths:
            await _sleep(stop, RECHECK_MS / 1000)
            continue
        log.info("watching %d directories for changes", len(paths))
        try:
            async for changes in watchfiles.awatch(
                *paths, stop_event=stop, debounce=BURST_MS, step=QUIET_MS,
                rust_timeout=RECHECK_MS, yield_on_timeout=True, force_polling=False,
                watch_filter=None, ignore_permission_denied=True,
            ):
                if changes:
                    _request(woken_keys((name for _, name in changes), paths), now())
                if watched_paths(*current()) != paths:  # a reload: watch the new set
                    break
        except Exception as exc:  # unsupported file system, too many watches, ...
            log.warning("cannot watch %s for changes (%s): they are scanned at their "
                        "scheduled polls only", ", ".join(sorted(paths)), exc)
            return


def _request(keys: set[str], at: datetime) -> None:
    for key in sorted(keys):
        try:
            source_store.request_poll(key, at)
        except Exception as exc:  # the database is away: the scheduled poll still comes
            log.warning("could not ask for the poll of %s after a change: %s", key, exc)
        else:
            log.info("%s changed on disk: polling it now", key, extra={"source_key": key})


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)

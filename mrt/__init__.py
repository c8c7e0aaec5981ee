"""Model Release Tracker: watch upstream, alert a team once, never lose the news."""

from __future__ import annotations

from mrt import deferred as _deferred

_deferred.install()  # before any module of ours imports httpx or peewee: see mrt/deferred.py


def __getattr__(name: str) -> str:
    # `__version__` is read from the installed metadata on first use (PEP 562): importing
    # importlib.metadata costs ~25 ms that the console's start-up does not need.
    if name != "__version__":
        raise AttributeError(f"module 'mrt' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("model-release-tracker")
    except PackageNotFoundError:  # running from a source tree that was never installed
        found = "0+unknown"
    globals()["__version__"] = found
    return found

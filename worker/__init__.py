"""mrt-worker: the headless process that polls, matches, stores and delivers."""

import mrt  # noqa: F401  (first: it defers what httpx and peewee import, mrt/deferred.py)

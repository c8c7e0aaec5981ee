"""The operator's sources: "poll now", by one mechanism (the cursor reset is mrt.ops.cursor).

Poll now sets the source's `poll_requested_at`; the worker's scheduler polls every requested
source at its next tick, whichever process asked (`mrt sources poll`, the console's `n`). The
worker's command queue carries no "poll now" of its own: this flag is the only way.
"""

from __future__ import annotations

from datetime import datetime

from mrt.store import audit
from mrt.store import sources as source_store
from mrt.store.db import bound_database, write_transaction

__all__ = ["poll_now"]


def poll_now(
    key: str,
    *,
    now: datetime,
    actor: str,
    reason: str | None = None,
    plugin: str | None = None,
) -> int:
    """Ask the worker to poll `key` at its next tick; audited "source.poll". Returns how many
    source rows took the request (0: the database has no such source yet). With `plugin` (the
    CLI knows it from the config) a source the worker never polled gets its row first."""
    with write_transaction(bound_database()):
        if plugin is not None:
            source_store.ensure_states([(key, plugin)], now)
        requested = source_store.request_poll(key, now)
        audit.record(actor, "source.poll", {"source_key": key}, reason=reason,
                     result={"requested": requested}, now=now)
    return requested

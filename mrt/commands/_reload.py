"""A running worker's failed config reload, as `mrt check` and `mrt sources` report it.

The worker records each reload's outcome on its heartbeat (worker/reload_status.py, schema v9);
here it is read back. Reading never fails a command: a database that is missing, unmigrated or
unavailable has its own line in `mrt check` (the database probe), and then there is nothing to
say about reloads.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from mrt.commands._probe import Finding
from mrt.config import Config, database_target
from mrt.store import workers
from mrt.store.db import open_database
from mrt.store.migrations import LATEST, schema_version


def failures_in(target: str, now: datetime, busy_timeout_ms: int) -> list[workers.ReloadFailure]:
    """Reload failures of the workers running on `target`; none when it cannot be read."""
    if "://" not in target and not Path(target).expanduser().is_file():
        return []
    try:
        db = open_database(target, read_only=True, busy_timeout_ms=busy_timeout_ms)
    except Exception:
        return []
    try:
        if schema_version(db) != LATEST:
            return []
        return workers.reload_failures(now)
    except Exception:
        return []
    finally:
        db.close()


def reload_findings(config: Config, env: Mapping[str, str], now: datetime) -> list[Finding]:
    """`mrt check`: one warning per running worker whose last reload failed."""
    try:
        target = database_target(config, env)
    except Exception:
        return []
    found = failures_in(target, now, config.state.busy_timeout_ms)
    return [Finding("warn", "worker", failure.sentence(), False) for failure in found]

"""What a config reload came to, on the worker's heartbeat (schema v9), so that `mrt check`,
`mrt sources` and the console can say "the running worker failed to reload FILE at TIME: ERROR;
it runs the previous config" instead of leaving that to a log nobody reads.

The error is written without secrets: the running config's values (every variable it names,
every URL as sent) and anything shaped like one (a URL's password, a token= query value) are
masked first; mrt.store.workers makes it inert and bounds its length. Recording never stops
the worker: a database that fails here is the database watch's business, and the log line
about the reload has been written already.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from mrt.config import find_config_file, secret_values
from mrt.secrets import scrub
from mrt.store import workers
from mrt.store.db_errors import explain_error

if TYPE_CHECKING:
    from worker.assembly import Runtime

log = logging.getLogger("mrt.worker")


def config_file(rt: Runtime) -> str:
    """The file the worker reloads (the default search when it was started without one)."""
    try:
        found = find_config_file(rt.config_path, env=rt.env)
    except Exception:  # an unreadable search path: the name it was given, if any
        found = None
    return str(found) if found is not None else (rt.config_path or "the built-in default")


def failure_text(rt: Runtime, exc: BaseException) -> str:
    """The reload error as stored: which file, then what the loader said; secrets masked."""
    text = explain_error(exc, rt.database) or type(exc).__name__
    file = rt.config_path or config_file(rt)
    # Always "FILE: detail" (the loader's errors already start so): readers name the file.
    if not text.startswith(f"{file}: "):
        text = f"{file}: {text}"
    return scrub(text, secret_values(rt.config, rt.env))


def record_reload(rt: Runtime, exc: BaseException | None, at: datetime) -> None:
    """Write the reload's outcome on this worker's heartbeat; never raises."""
    try:
        error = None if exc is None else failure_text(rt, exc)
        workers.record_reload(rt.worker_id, error=error, now=at)
    except Exception as problem:
        log.warning("could not record the reload's outcome on the heartbeat: %s",
                    explain_error(problem, rt.database))

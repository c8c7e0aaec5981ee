"""Every error MRT raises on purpose.

    MrtError(message, title)             base; the CLI prints it without a traceback
    ├── ConfigError                      a config file or value is wrong (exit code 2)
    │   ├── MissingSecretError           a required environment variable is not set
    │   └── InvalidConfig                one config's problems, one line each (mrt.config)
    ├── BulkFilterError                  a bulk outbox action's filter it does not take (mrt.ops)
    ├── PluginError                      a source or channel plugin is missing or broken
    ├── StoreError                       the database cannot be opened, migrated or written
    │   ├── MigrationError               a migration step failed (the backup path is in the message)
    │   └── LeaseLost                    another worker took this source's lease: nothing committed
    ├── SourceError(msg, **context)      one source's poll failed; context becomes log fields
    │   ├── RateLimited                  the upstream said "slow down"; defer until `until`
    │   └── UpstreamChanged              the upstream answered in a shape we do not understand
    ├── TemplateError                    a message template failed to render
    └── AiError                          an AI endpoint could not help (mrt.ai); callers fall back
        ├── AiUnavailable                down, slow, throttled or refused
        │   └── AiOverBudget             our own per-minute budget is spent: the endpoint is fine
        └── AiInvalidOutput              answered, but not JSON or not in the asked schema

A bad rule is a ConfigError naming the rule. A failed send is not an exception at all: a
channel plugin returns a SendOutcome, and the sender turns whatever a plugin raises anyway into
a failed attempt (outbox state). Only the runner turns a SourceError into a failed cycle: it
never escapes to the process.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


class MrtError(Exception):
    """Base of MRT's own errors; `title` is a short heading the TUI can show."""

    title = "Error"

    def __init__(self, message: str, title: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if title is not None:
            self.title = title

    def __str__(self) -> str:
        return self.message


class ConfigError(MrtError):
    title = "Configuration error"

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        path: str | None = None,
        title: str | None = None,
    ) -> None:
        where = ": ".join(p for p in (file, path) if p)
        super().__init__(f"{where}: {message}" if where else message, title)
        self.file = file
        self.path = path
        self.detail = message


class MissingSecretError(ConfigError):
    title = "Missing secret"


class PluginError(MrtError):
    title = "Plugin error"


class StoreError(MrtError):
    title = "Database error"


class MigrationError(StoreError):
    title = "Migration failed"


class LeaseLost(StoreError):
    """A cycle's source lease expired and another worker took it (mrt/store/leases.py): the
    late cycle commits nothing, so it cannot move the cursor back or store its events twice."""

    title = "Source lease lost"


class SourceError(MrtError):
    """A poll failed. `context` (status, url without query secrets, ...) becomes log fields."""

    title = "Source error"

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.context = context

    @property
    def http_status(self) -> int | None:
        status = self.context.get("status")
        return int(status) if status is not None else None


class RateLimited(SourceError):
    """The upstream asked us to wait; the source is deferred until `until`, not failed."""

    title = "Rate limited"

    def __init__(self, message: str, *, until: datetime, **context: Any) -> None:
        super().__init__(message, **context)
        self.until = until


class UpstreamChanged(SourceError):
    title = "Upstream changed"


class TemplateError(MrtError):
    title = "Template error"


class AiError(MrtError):
    """An AI enhancement could not help; whoever asked falls back to the plain, non-AI path."""

    title = "AI unavailable"


class AiUnavailable(AiError):
    pass


class AiOverBudget(AiUnavailable):
    title = "AI budget spent"


class AiInvalidOutput(AiError):
    title = "AI answer rejected"

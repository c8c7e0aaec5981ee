"""The outbox's record types, secret redaction and small query helpers (see outbox.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import peewee

from mrt.message import Message
from mrt.secrets import redact_shapes
from mrt.store.models import Outbox

STATUSES = ("pending", "sending", "sent", "retrying", "dead", "discarded")
LEASE_LOST = "lease_lost"
MAX_MESSAGE_CHARS = 2000
RETRYABLE = ("dead", "retrying")  # what an operator's retry can move back to pending
DISCARDABLE = ("pending", "retrying", "dead")  # never a row in flight: its sender owns it


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A row this sender now holds a lease on; `attempts` counts the tries before this one."""

    id: int
    alert_id: int
    channel: str
    target: str
    attempts: int
    created_at: datetime
    lease_expires_at: datetime
    message: Message
    source_key: str | None = None
    fingerprint: str | None = None
    why: str = ""  # the rules that matched and their reasons, in one line
    title: str = ""  # the alert's title (a burst folded into one message lists them)
    # burst folding: the rows (besides this one, the carrier) whose alerts go in this message
    folded: tuple[ClaimedDelivery, ...] = ()


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """What one try looked like. `message` must already be scrubbed of the target's secrets."""

    started_at: datetime
    duration_ms: int = 0
    http_status: int | None = None
    vendor_code: str | None = None
    error_class: str | None = None
    message: str | None = None
    throttled: bool = False


def redact_common_secrets(text: str) -> str:
    """Remove secrets recognisable by shape; the sender removes the target's known ones first."""
    text = redact_shapes(text)  # mrt.secrets: the one scrubber
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 1] + "…"
    return text


def describe_failure(attempt: AttemptRecord) -> str:
    """The last error in plain words, as `mrt outbox` and the TUI show it."""
    parts: list[str] = []
    if attempt.throttled:
        parts.append("throttled by the target")
    if attempt.http_status is not None:
        parts.append(f"HTTP {attempt.http_status}")
    if attempt.vendor_code is not None:
        parts.append(f"vendor code {attempt.vendor_code}")
    if attempt.error_class and attempt.http_status is None:
        parts.append(attempt.error_class)
    head = ", ".join(parts)
    text = redact_common_secrets(attempt.message or "")
    if head and text:
        return f"{head}: {text}"
    return head or text or "failed without a reason given"


def fk_id(row: peewee.Model, name: str) -> int | None:
    """A foreign key's raw id without loading the related row."""
    value = row.__data__.get(name)
    return int(value) if value is not None else None


def as_tuples(query: peewee.ModelSelect[Any]) -> list[tuple[Any, ...]]:
    return [cast(tuple[Any, ...], r) for r in query.tuples()]


def as_utc_datetime(value: Any) -> datetime | None:
    """Aggregates (MIN/MAX) come back raw from the driver: text on SQLite."""
    parsed = Outbox.created_at.python_value(value)  # text -> datetime; naive -> aware UTC
    return parsed if isinstance(parsed, datetime) else None

"""The facade plugins import: everything a source or channel plugin may use, and nothing else.

A source module imports `mrt.api` and nothing else of MRT (a test and an import-linter contract
hold it to that): its config model's bases, what it gets and gives on a poll, the HTTP client it
is handed, the paging and timestamp helpers, the checks that turn one malformed upstream item into
a quarantined one instead of a failed poll, and the errors it may raise.
"""

from mrt.config import ChannelConfig, SourceSection, Strict
from mrt.config import Config as RootConfig
from mrt.errors import RateLimited, SourceError, UpstreamChanged
from mrt.events import TrackerEvent, fingerprint_of, utcnow
from mrt.http import HostBudget, HttpClient, JsonResponse
from mrt.http.paging import link_pages
from mrt.message import Message, SendOutcome, Target
from mrt.source_kit.contract import PollContext, PollResult, Quarantined, SourceSpec
from mrt.source_kit.items import (
    MAX_ID,
    BadItem,
    content_key,
    quarantine,
    require_choice,
    require_int,
    require_optional_time,
    require_text,
    require_time,
    text_of,
    trimmed,
    usable_time,
    valid_text,
)
from mrt.source_kit.timestamps import format_time, parse_backfill, parse_time

__all__ = [
    "MAX_ID",
    "BadItem",
    "ChannelConfig",
    "HostBudget",
    "HttpClient",
    "JsonResponse",
    "Message",
    "PollContext",
    "PollResult",
    "Quarantined",
    "RateLimited",
    "RootConfig",
    "SendOutcome",
    "SourceError",
    "SourceSection",
    "SourceSpec",
    "Strict",
    "Target",
    "TrackerEvent",
    "UpstreamChanged",
    "content_key",
    "fingerprint_of",
    "format_time",
    "link_pages",
    "parse_backfill",
    "parse_time",
    "quarantine",
    "require_choice",
    "require_int",
    "require_optional_time",
    "require_text",
    "require_time",
    "text_of",
    "trimmed",
    "usable_time",
    "utcnow",
    "valid_text",
]

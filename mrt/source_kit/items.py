"""One upstream item at a time: its text made valid, its required fields checked.

A page of items must never be stopped by one of them. A source checks each item's identity and
required fields with the `require_*` helpers below; they raise BadItem naming the field, what
was found and what was expected, and the source turns that into a `Quarantined` record (its
reason names the source, the item and the field) and goes on with the page.

Text is never a reason to quarantine. JSON's `\\ud800` escape gives Python a lone surrogate that
UTF-8 cannot encode (the database write then fails on every poll), and PostgreSQL's text cannot
hold NUL: `valid_text` replaces both with U+FFFD, everywhere in an item, before anything else
reads it. Escapes and controls stay: showing text safely is the printer's job, not storage's.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from mrt.source_kit.contract import Quarantined
from mrt.source_kit.timestamps import format_time, parse_time

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
# An upstream clock a little ahead is normal; a time further ahead would pin the cursor there
# and hide every real change until that date.
FUTURE_SLACK = timedelta(days=1)
MAX_ID = 2**63 - 1  # what any database integer holds
MAX_DEPTH = 32  # JSON nesting kept from an item: upstream items nest a few levels (model-index ~6)
_UNUSABLE_TEXT = re.compile("[\ud800-\udfff\x00]")
_MISSING = object()

# the trimmed copy kept with a quarantined item
_RAW_KEYS = 40
_RAW_LIST = 10
_RAW_TEXT = 300
_RAW_DEPTH = 3


class BadItem(Exception):
    """An item's field is unusable: `field "number": expected an integer, found "abc"`."""

    def __init__(self, field: str, expected: str, found: Any = _MISSING) -> None:
        self.field = field
        self.expected = expected
        self.found = found
        super().__init__(self.describe())

    def describe(self) -> str:
        return f'field "{self.field}": expected {self.expected}, found {shown(self.found)}'


def shown(value: Any, width: int = 80) -> str:
    """A found value as a reason quotes it: JSON, valid text, at most `width` characters."""
    if value is _MISSING:
        return "nothing"
    text = json.dumps(trimmed(value, depth=1), ensure_ascii=False, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


def valid_text(value: Any, depth: int = 0) -> Any:
    """`value` (any JSON) with every string, keys included, encodable as UTF-8, NUL-free.

    Nesting deeper than MAX_DEPTH (no upstream field is) becomes a short text, so that no later
    step (this one included) runs out of recursion on a hostile item."""
    if isinstance(value, str):
        if "\x00" not in value:
            try:
                value.encode("utf-8")
                return value
            except UnicodeEncodeError:
                pass
        return _UNUSABLE_TEXT.sub("\ufffd", value)
    if isinstance(value, dict | list) and depth >= MAX_DEPTH:
        return f"(nested deeper than {MAX_DEPTH} levels: dropped)"
    if isinstance(value, dict):
        return {valid_text(k): valid_text(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [valid_text(v, depth + 1) for v in value]
    return value


def escaped(text: str) -> str:
    """A diagnostic line that is safe on any terminal or log: controls, format characters
    (bidi overrides, zero-width) and line separators written as `\\uXXXX`."""
    return "".join(
        f"\\u{ord(ch):04x}" if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch
        for ch in text
    )


def text_of(value: Any) -> str:
    """A text field that may arrive as a number or something else: its text, or ""."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def require_int(item: Mapping[str, Any], field: str) -> int:
    """A positive integer that fits a database integer (a bool is not a number)."""
    value = item.get(field, _MISSING)
    if value is _MISSING or value is None:
        raise BadItem(field, "an integer")
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadItem(field, "an integer", value)
    if not 1 <= value <= MAX_ID:
        raise BadItem(field, f"an integer between 1 and {MAX_ID}", value)
    return value


def require_text(item: Mapping[str, Any], field: str) -> str:
    value = item.get(field, _MISSING)
    if value is _MISSING or value is None:
        raise BadItem(field, "a string")
    if not isinstance(value, str) or not value.strip():
        raise BadItem(field, "a non-empty string", value)
    return value


def require_choice(item: Mapping[str, Any], field: str, choices: tuple[str, ...]) -> str:
    value = item.get(field, _MISSING)
    if value not in choices:
        raise BadItem(field, " or ".join(f'"{c}"' for c in choices), value)
    return str(value)


def require_time(item: Mapping[str, Any], field: str, now: datetime) -> datetime:
    """An ISO 8601 time (or epoch seconds) between 1970 and a day after `now`."""
    value = item.get(field, _MISSING)
    if value is _MISSING or value is None:
        raise BadItem(field, "an ISO 8601 timestamp")
    parsed = parse_time(value)
    if parsed is None:
        raise BadItem(field, "an ISO 8601 timestamp", value)
    if parsed < EARLIEST:
        raise BadItem(field, "a time after 1970-01-01", value)
    if parsed > now + FUTURE_SLACK:
        # say which clock: a host clock days behind would make every new item look like this
        raise BadItem(field, f"a time before {format_time(now + FUTURE_SLACK)} (a day after "
                      "this host's clock)", value)
    return parsed


def usable_time(item: Any, field: str, now: datetime) -> datetime | None:
    """`require_time`, or None: a bad item's time still moves the cursor past it if usable."""
    if not isinstance(item, dict):
        return None
    try:
        return require_time(item, field, now)
    except BadItem:
        return None


def require_optional_time(item: Mapping[str, Any], field: str, now: datetime) -> None:
    """An optional time: absent or null is fine; present, it must be usable."""
    if item.get(field) is not None:
        require_time(item, field, now)


def trimmed(value: Any, depth: int = _RAW_DEPTH) -> Any:
    """A bounded copy for storage and reasons: long text cut, long lists and deep nesting
    summarised, non-finite floats as text (JSON cannot hold them)."""
    if isinstance(value, str):
        text = valid_text(value)
        return text if len(text) <= _RAW_TEXT else text[:_RAW_TEXT] + f"… ({len(text)} chars)"
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if abs(value) <= MAX_ID else f"{str(value)[:40]}… ({len(str(value))} digits)"
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        if depth <= 0:
            return f"{{… {len(value)} keys}}"
        items = list(value.items())
        out = {str(trimmed(k, 0)): trimmed(v, depth - 1) for k, v in items[:_RAW_KEYS]}
        if len(items) > _RAW_KEYS:
            out["…"] = f"{len(items) - _RAW_KEYS} more keys"
        return out
    if isinstance(value, list):
        if depth <= 0:
            return f"[… {len(value)} items]"
        out_list = [trimmed(v, depth - 1) for v in value[:_RAW_LIST]]
        if len(value) > _RAW_LIST:
            out_list.append(f"… {len(value) - _RAW_LIST} more items")
        return out_list
    return valid_text(str(value))[:_RAW_TEXT]


def _clipped(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def content_key(item: Any) -> str:
    """An identity for an item that has no usable id: a hash of its content."""
    canonical = json.dumps(trimmed(item), ensure_ascii=False, sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def quarantine(
    source_key: str,
    label: str,
    item: Any,
    bad: BadItem,
    *,
    item_key: str,
    upstream_id: Any = None,
    url: Any = None,
) -> Quarantined:
    """The record of one bad item: `{source_key} {label}: {what is wrong}`."""
    upstream = text_of(upstream_id) or None
    link = url if isinstance(url, str) and url.strip() else None
    raw = trimmed(item)
    return Quarantined(
        item_key=valid_text(item_key)[:200],
        reason=escaped(f"{source_key} {_clipped(valid_text(label), 200)}: {bad.describe()}"),
        raw=raw if isinstance(raw, dict) else {"item": raw},
        upstream_id=valid_text(upstream)[:200] if upstream else None,
        url=valid_text(link)[:500] if link else None,
    )

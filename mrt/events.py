"""The event every source produces, and the fingerprints that make repeats harmless."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from json.encoder import encode_basestring
from typing import Any


def utcnow() -> datetime:
    return datetime.now(UTC)


def fingerprint_of(
    source: str, resource_type: str, resource_id: str, event_type: str, event_id: str
) -> str:
    """sha256 over the five identifying fields, serialised exactly as v0 did.

    v1 keeps v0's recipe so that the two generations speak one language; the difference is in
    what v1 sources put in the fields (v1 event types and event ids are finer than v0's).

    A cycle reads an event's fingerprint several times (v0 check, clusters, dedupe, the
    commit): the last few thousand are remembered, so each is hashed once.
    """
    try:
        return _remembered(source, resource_type, resource_id, event_type, event_id)
    except TypeError:  # a value that cannot be a cache key (not a str): computed each time
        return _fingerprint(source, resource_type, resource_id, event_type, event_id)


def _fingerprint(
    source: str, resource_type: str, resource_id: str, event_type: str, event_id: str
) -> str:
    if (
        type(source) is str
        and type(resource_type) is str
        and type(resource_id) is str
        and type(event_type) is str
        and type(event_id) is str
    ):  # the JSON json.dumps(sort_keys, ensure_ascii=False, compact) writes, without its setup
        payload = (
            '{"event_id":' + _quoted(event_id)
            + ',"event_type":' + _quoted(event_type)
            + ',"resource_id":' + _quoted(resource_id)
            + ',"resource_type":' + _quoted(resource_type)
            + ',"source":' + _quoted(source) + "}"
        )
    else:
        payload = json.dumps(
            {
                "source": source,
                "resource_type": resource_type,
                "resource_id": resource_id,
                "event_type": event_type,
                "event_id": event_id,
            },
            ensure_ascii=False,
            sort_keys=True,
            separators=(",", ":"),
        )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


_quoted = encode_basestring  # a str as JSON with ensure_ascii=False, as json.dumps quotes it
_remembered = lru_cache(maxsize=8192, typed=True)(_fingerprint)  # typed: 1, 1.0, True differ


@dataclass(frozen=True, slots=True)
class TrackerEvent:
    """One meaningful change of one upstream resource.

    `source` is the platform (github), `source_key` the configured instance that saw it
    (github:vllm-project/vllm). `details` holds normalised extras (labels, merged, sha,
    pipeline_tag, ...); `raw` a trimmed copy of the upstream item for troubleshooting.
    `legacy_fingerprint` is what v0 would have called the same observation, so that an upgraded
    v0 database never alerts again what v0 already saw.
    """

    source: str
    source_key: str
    resource_type: str
    resource_id: str
    event_type: str
    event_id: str
    title: str
    summary: str = ""
    url: str = ""
    author: str = ""
    labels: tuple[str, ...] = ()
    occurred_at: datetime | None = None
    observed_at: datetime = field(default_factory=utcnow)
    details: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    legacy_fingerprint: str | None = None

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(
            self.source, self.resource_type, self.resource_id, self.event_type, self.event_id
        )

    def field_value(self, name: str) -> Any:
        """A field by dotted name for rules and templates: `title`, `details.pipeline_tag`."""
        head, _, rest = name.partition(".")
        value: Any = getattr(self, head, None) if head != "details" else self.details
        for part in rest.split(".") if rest else ():
            value = value.get(part) if isinstance(value, dict) else None
        return value


# The event detail an AI summary travels in to the renderer (mrt/ai_hooks.py puts it there,
# mrt/delivery/render.py shows it and leaves it out of the details listed).
AI_SUMMARY = "mrt.ai_summary"

"""Which event fields a rule may name, and the text a rule sees of each one."""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import fields as dataclass_fields
from typing import Any

from mrt.errors import ConfigError
from mrt.events import TrackerEvent
from mrt.rules.prefilter import fold_lowered

# Rules look at no more than this many characters of any one field. RE2 is linear, so this is
# not what keeps a hostile 1 MB issue body from stalling the worker; it bounds the work per event
# (and the memory of lower-cased copies) when a body is far larger than any real one.
MAX_FIELD_CHARS = 1_048_576

PRIORITIES = ("low", "normal", "high", "critical")

# `raw` is the trimmed upstream item: allowed, since an operator may need a field no source
# normalised yet. `observed_at`/`occurred_at` are times, not text a rule should match.
_TEXT_FIELDS = tuple(
    f.name
    for f in dataclass_fields(TrackerEvent)
    if f.name not in ("observed_at", "occurred_at", "legacy_fingerprint")
)
_NESTED = ("details", "raw")


def field_name_pattern() -> str:
    """The names `check_field_name` accepts, as a regular expression (for the JSON Schema)."""
    plain = "|".join(re.escape(f) for f in _TEXT_FIELDS if f not in _NESTED)
    return rf"^(?:{plain})$|^(?:{'|'.join(_NESTED)})(?:\.[^.]+)+$"


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_field_name(name: Any, path: str) -> str:
    """`title`, `labels`, `details.pipeline_tag`; anything else is a ConfigError."""
    if not isinstance(name, str) or not name:
        raise ConfigError(
            f"expected an event field name such as 'title' or 'details.pipeline_tag', "
            f"found {name!r}",
            path=path,
        )
    head, dot, rest = name.partition(".")
    if head in _NESTED:
        if not dot or not rest or "" in rest.split("."):
            raise ConfigError(
                f"{head!r} needs a key, e.g. '{head}.pipeline_tag' (found {name!r})", path=path
            )
        return name
    if head in _TEXT_FIELDS and not dot:
        return name
    choices = [*_TEXT_FIELDS, "details.<key>", "raw.<key>"]
    raise ConfigError(
        f"unknown event field {name!r}{did_you_mean(head, _TEXT_FIELDS)}; "
        f"expected one of {', '.join(choices)}",
        path=path,
    )


def text_of(value: Any) -> str:
    """The text a rule matches: strings as they are, lists one item a line, the rest as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    elif isinstance(value, list | tuple):
        text = "\n".join(text_of(v) for v in value)
    elif isinstance(value, bool | int | float):
        text = json.dumps(value)
    else:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    text = text[:MAX_FIELD_CHARS]
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates ("\ud800" is valid JSON) cannot reach RE2, which works on UTF-8.
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


class EventView:
    """One event as the rules see it, plus what earlier rules decided (priority, tags).

    Field texts and their lower-cased, folded, joined and UTF-8 forms are computed once per
    event, whatever the number of rules that look at them.
    """

    __slots__ = (
        "_encoded",
        "_encoded_lower",
        "_folded",
        "_joined",
        "_labels",
        "_lower",
        "_text",
        "event",
        "memo",
        "priority",
        "tags",
    )

    def __init__(self, event: TrackerEvent) -> None:
        self.event = event
        self.priority = event_priority(event) or "normal"
        self.tags: dict[str, None] = {}  # ordered set
        self._text: dict[str, str] = {}
        self._lower: dict[str, str] = {}
        self._folded: dict[str, str] = {}
        self._joined: dict[str, str] = {}
        self._encoded: dict[str, bytes] = {}
        self._encoded_lower: dict[str, bytes] = {}
        self._labels: frozenset[str] | None = None
        self.memo: dict[object, bool] = {}  # leaf condition -> result, for this event

    def text(self, name: str) -> str:
        cached = self._text.get(name)
        if cached is None:
            cached = self._text[name] = text_of(self.event.field_value(name))
        return cached

    def lower(self, name: str) -> str:
        cached = self._lower.get(name)
        if cached is None:
            cached = self._lower[name] = self.text(name).lower()
        return cached

    def encoded(self, name: str) -> bytes:
        """The text as UTF-8 (text_of made it encodable), for RE2 programs over bytes."""
        cached = self._encoded.get(name)
        if cached is None:
            cached = self._encoded[name] = self.text(name).encode("utf-8")
        return cached

    def lower_encoded(self, name: str) -> bytes:
        """The lower-cased text as UTF-8."""
        cached = self._encoded_lower.get(name)
        if cached is None:
            cached = self._encoded_lower[name] = self.lower(name).encode("utf-8")
        return cached

    def folded(self, name: str) -> str:
        """The text as case-insensitive literals are looked for in it (prefilter.fold)."""
        cached = self._folded.get(name)
        if cached is None:
            cached = self._folded[name] = fold_lowered(self.lower(name))
        return cached

    def joined(self, key: JoinedKey) -> str:
        """Several fields' texts (in the key's form) in one string, one a line: a term
        in none of them is in none of the fields, and one `in` test says so."""
        cached = self._joined.get(key.name)
        if cached is None:
            part = self.folded if key.form == "folded" else (
                self.lower if key.form == "lower" else self.text
            )
            cached = self._joined[key.name] = "\n".join(part(name) for name in key.fields)
        return cached

    def labels_lower(self) -> frozenset[str]:
        if self._labels is None:
            self._labels = frozenset(str(label).lower() for label in self.event.labels)
        return self._labels


class JoinedKey:
    """Which fields EventView.joined puts together, and in which form: "text" (as they are),
    "lower" (lower-cased) or "folded" (prefilter.fold)."""

    __slots__ = ("fields", "form", "name")

    def __init__(self, fields: tuple[str, ...], form: str) -> None:
        self.fields = fields
        self.form = form
        self.name = form + ":" + "\n".join(fields)


def event_priority(event: TrackerEvent) -> str | None:
    """A priority the source put on the event itself (details.priority), when it is a known one."""
    value = event.details.get("priority") if isinstance(event.details, dict) else None
    return value if value in PRIORITIES else None

"""The typed parts of a rule (pydantic, strict) and the compiled rule the engine runs.

The condition tree itself (all/any/not over leaf conditions) is parsed by mrt.rules.parse,
which walks it by hand so that an error can name its exact place:
`rules[2] (deepseek-prs).when.any[1].regex: ...`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mrt.errors import ConfigError
from mrt.rules.conditions import Condition
from mrt.rules.fields import did_you_mean

Priority = Literal["low", "normal", "high", "critical"]

DEFAULT_KEYWORD_FIELDS = ("title", "summary")  # v0: title and summary only


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class KeywordsSpec(Spec):
    terms: list[str] = Field(min_length=1)
    word: bool = False  # only whole words: "qwen" does not match "qwenvl"
    fields: list[str] = Field(default_factory=lambda: list(DEFAULT_KEYWORD_FIELDS), min_length=1)


class RegexSpec(Spec):
    pattern: str = Field(min_length=1)
    field: str | None = None
    fields: list[str] | None = Field(None, min_length=1)
    ignore_case: bool = False


class AuthorsSpec(Spec):
    allow: list[str] = Field(default_factory=list)
    block: list[str] = Field(default_factory=list)


class SetSpec(Spec):
    any: list[str] = Field(default_factory=list)
    all: list[str] = Field(default_factory=list)
    none: list[str] = Field(default_factory=list)


class NotifySpec(Spec):
    channels: list[str] | None = None  # None: every configured channel
    priority: Priority | None = None
    template: str | None = None


class AggregateSpec(Spec):
    window_minutes: int | None = Field(None, ge=1)  # None: aggregation.window_minutes
    group_by: list[str] | None = Field(None, min_length=1)  # None: aggregation.group_by


class DigestSpec(Spec):
    name: str = Field(min_length=1)


class TagSpec(Spec):
    tags: list[str] = Field(min_length=1)
    priority: Priority | None = None


S = TypeVar("S", bound=Spec)


def validate_spec(model: type[S], value: Any, path: str, file: str | None) -> S:
    """pydantic's validation, with its errors rewritten as `path.key: what was wrong`."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        problems = [_describe(error, model) for error in exc.errors()]
        if len(problems) == 1:
            loc, message = problems[0]
            raise ConfigError(message, file=file, path=path + loc) from None
        message = "; ".join(f"{loc.lstrip('.')}: {msg}" if loc else msg for loc, msg in problems)
        raise ConfigError(message, file=file, path=path) from None


def _describe(error: Any, model: type[Spec]) -> tuple[str, str]:
    """(".key[1]", "what was wrong") for one pydantic error."""
    loc_parts = list(error["loc"])
    if error["type"] == "extra_forbidden":
        key = str(loc_parts.pop())
        known = list(model.model_fields)
        message = f"unknown key {key!r}{did_you_mean(key, known)}; expected {', '.join(known)}"
    elif error["type"] == "model_type":
        message = (
            f"expected a mapping with keys {', '.join(model.model_fields)}, "
            f"found {type(error['input']).__name__} {error['input']!r}"
        )
    elif error["type"] == "missing":
        message = "required"
    else:
        found = repr(error.get("input"))
        found = found if len(found) <= 60 else found[:57] + "..."
        message = f"{error['msg']} (found {found})"
    loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc_parts)
    return loc, message


@dataclass(frozen=True, slots=True)
class Aggregate:
    window_minutes: int
    group_by: tuple[str, ...]


@dataclass(frozen=True)
class CompiledRule:
    """One rule, ready to evaluate. `origin` says where it came from (rules | watch_keywords)."""

    name: str
    index: int  # position in the evaluation order
    path: str  # "rules[2] (deepseek-prs)" for messages
    condition: Condition
    has_conditions: bool
    notify: NotifySpec | None = None
    suppress: bool = False
    aggregate: Aggregate | None = None
    digest: str | None = None
    tags: tuple[str, ...] = ()
    priority: str | None = None
    continue_: bool = False
    origin: str = "rules"

    @property
    def delivers(self) -> bool:
        """It leads to a message: notify, aggregate or digest."""
        return self.notify is not None or self.aggregate is not None or self.digest is not None

    @property
    def tag_only(self) -> bool:
        return not self.delivers and not self.suppress

    @property
    def mode(self) -> str:
        if self.aggregate is not None:
            return "aggregate"
        if self.digest is not None:
            return "digest"
        return "notify"

    @property
    def stops(self) -> bool:
        """Evaluation ends after this rule when it matches."""
        return self.suppress or (self.delivers and not self.continue_)

    def channels(self) -> tuple[str, ...] | None:
        """The channels this rule names; None means every configured channel."""
        return (
            None
            if self.notify is None
            else (tuple(self.notify.channels) if self.notify.channels is not None else None)
        )

    def canonical(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "origin": self.origin,
            "when": self.condition.canonical(),
            "notify": None if self.notify is None else self.notify.model_dump(),
            "suppress": self.suppress,
            "aggregate": None
            if self.aggregate is None
            else {
                "window_minutes": self.aggregate.window_minutes,
                "group_by": list(self.aggregate.group_by),
            },
            "digest": self.digest,
            "tags": list(self.tags),
            "priority": self.priority,
            "continue": self.continue_,
        }

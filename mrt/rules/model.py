"""The typed parts of a rule (pydantic, strict) and the compiled rule the engine runs.

The condition tree itself (all/any/not over leaf conditions) is parsed by mrt.rules.parse,
which walks it by hand so that an error can name its exact place:
`rules[2] (deepseek-prs).when.any[1].regex: ...`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.json_schema import SkipJsonSchema

from mrt.errors import ConfigError
from mrt.rules.conditions import Condition
from mrt.rules.fields import did_you_mean, field_name_pattern

Priority = Literal["low", "normal", "high", "critical"]

DEFAULT_KEYWORD_FIELDS = ("title", "summary")  # v0: title and summary only


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# What mrt.rules.parse checks by hand beyond these models (non-blank names, event field names),
# stated for the JSON Schema only: `json_schema_extra` changes the schema, not the validation.
NON_BLANK: dict[str, Any] = {"type": "string", "pattern": r"\S"}
FIELD_NAME: dict[str, Any] = {"type": "string", "pattern": field_name_pattern()}
GROUP_PART: dict[str, Any] = {
    "type": "string",
    "pattern": f"{field_name_pattern()}|^tags$|^tag:.*\\S",
}


def _one_of_nonempty(*keys: str) -> dict[str, Any]:
    return {"anyOf": [{"required": [k], "properties": {k: {"minItems": 1}}} for k in keys]}


class KeywordsSpec(Spec):
    terms: list[str] = Field(min_length=1, json_schema_extra={"items": NON_BLANK})
    word: bool = False  # only whole words: "qwen" does not match "qwenvl"
    fields: list[str] = Field(
        default_factory=lambda: list(DEFAULT_KEYWORD_FIELDS),
        min_length=1,
        json_schema_extra={"items": FIELD_NAME},
    )


class RegexSpec(Spec):
    model_config = ConfigDict(json_schema_extra={"not": {"required": ["field", "fields"]}})
    pattern: str = Field(min_length=1)
    field: str | None = Field(None, json_schema_extra={"anyOf": [FIELD_NAME, {"type": "null"}]})
    fields: list[str] | None = Field(
        None, min_length=1, json_schema_extra={"items": FIELD_NAME}
    )
    ignore_case: bool = False


class AboutSpec(Spec):
    topic: str = Field(min_length=1, max_length=500, json_schema_extra=NON_BLANK)
    threshold: float = Field(0.4, gt=0, le=1)  # mrt.rules.about.DEFAULT_THRESHOLD
    # the embeddings mode's (ai.embedding_model): cosine similarity, a different scale
    embedding_threshold: float = Field(0.75, gt=0, le=1)  # about.DEFAULT_EMBEDDING_THRESHOLD
    fields: list[str] = Field(
        default_factory=lambda: list(DEFAULT_KEYWORD_FIELDS),
        min_length=1,
        json_schema_extra={"items": FIELD_NAME},
    )


class AuthorsSpec(Spec):
    model_config = ConfigDict(json_schema_extra=_one_of_nonempty("allow", "block"))
    allow: list[str] = Field(default_factory=list, json_schema_extra={"items": NON_BLANK})
    block: list[str] = Field(default_factory=list, json_schema_extra={"items": NON_BLANK})


class SetSpec(Spec):
    model_config = ConfigDict(json_schema_extra=_one_of_nonempty("any", "all", "none"))
    any: list[str] = Field(default_factory=list, json_schema_extra={"items": NON_BLANK})
    all: list[str] = Field(default_factory=list, json_schema_extra={"items": NON_BLANK})
    none: list[str] = Field(default_factory=list, json_schema_extra={"items": NON_BLANK})


class NotifySpec(Spec):
    channels: list[str] | None = None  # None: every configured channel
    priority: Priority | None = None
    template: str | None = None


class AggregateSpec(Spec):
    window_minutes: int | None = Field(None, ge=1)  # None: aggregation.window_minutes
    group_by: list[str] | None = Field(  # None: aggregation.group_by
        None, min_length=1, json_schema_extra={"items": GROUP_PART}
    )


class DigestSpec(Spec):
    name: str = Field(min_length=1)


class TriageSpec(Spec):
    """AI4 on a rule that notifies and names a digest: a score at or above `instant_at` goes at
    once, below `digest_below` to the rule's digest, in between the rule's plain decision."""

    model_config = ConfigDict(
        json_schema_extra={"description": "AI4 triage: route by the model's score (docs/AI.md)"}
    )
    instant_at: float = Field(0.7, ge=0, le=1)
    digest_below: float = Field(0.4, ge=0, le=1)
    min_confidence: float = Field(0.5, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> TriageSpec:
        if self.digest_below > self.instant_at:
            raise ValueError(
                f"digest_below ({self.digest_below}) must not be above instant_at "
                f"({self.instant_at})"
            )
        return self

    def as_json(self) -> dict[str, float]:
        return {"instant_at": self.instant_at, "digest_below": self.digest_below,
                "min_confidence": self.min_confidence}


class TagSpec(Spec):
    tags: list[str] = Field(min_length=1, json_schema_extra={"items": NON_BLANK})
    priority: Priority | None = None


# --- the shape of a rule, one definition for the parser's keys and the JSON Schema ------------
# mrt.rules.parse walks a rule by hand (so that an error names its exact place) and takes its
# keys from these models; mrt.config.schema publishes them as the schema of `rules`. The leaf
# values are the Spec models above, which the parser validates with.

NAMES: dict[str, Any] = {
    "anyOf": [NON_BLANK, {"type": "array", "items": NON_BLANK, "minItems": 1}]
}
Names = Annotated[str | list[str], Field(json_schema_extra=NAMES)]  # one, or a non-empty list
Off = Literal[False]
Skip = SkipJsonSchema[None]  # absent is fine, null is not: the parser refuses it


class WhenSchema(Spec):
    """`when:`: a mapping of conditions that must all hold; `{}` matches every event."""

    model_config = ConfigDict(defer_build=True)  # for the JSON Schema only: built by it

    all: Annotated[list[WhenSchema], Field(min_length=1)] | Skip = None
    any: Annotated[list[WhenSchema], Field(min_length=1)] | Skip = None
    not_: WhenSchema | Skip = Field(None, alias="not")
    keywords: Names | KeywordsSpec | Skip = None
    regex: Annotated[str, Field(min_length=1)] | RegexSpec | Skip = None
    about: Annotated[str, Field(min_length=1, max_length=500)] | AboutSpec | Skip = None
    source: Names | Skip = None
    source_key: Names | Skip = None  # globs
    resource_type: Names | Skip = None
    resource_id: Names | Skip = None  # globs
    event_type: Names | Skip = None
    authors: Names | AuthorsSpec | Skip = None
    labels: Names | SetSpec | Skip = None
    tags: Names | SetSpec | Skip = None
    priority: Priority | Annotated[list[Priority], Field(min_length=1)] | Skip = None


ACTION_KEYS = ("notify", "suppress", "aggregate", "digest", "tag")


def _rule_constraints(schema: dict[str, Any]) -> None:
    off = {"enum": [False, None]}
    schema["anyOf"] = [  # at least one action that does something
        {"required": [k], "properties": {k: {"not": off}}} for k in ACTION_KEYS
    ]
    schema["dependentRequired"] = {"triage": ["notify", "digest"]}  # its two routes
    schema["not"] = {  # aggregate or digest, not both
        "required": ["aggregate", "digest"],
        "properties": {"aggregate": {"not": off}, "digest": {"not": off}},
    }


class RuleSchema(Spec):
    """One rule: a name, optional conditions, at least one action (docs/RULES.md)."""

    model_config = ConfigDict(json_schema_extra=_rule_constraints, defer_build=True)  # as above
    name: str = Field(json_schema_extra=NON_BLANK)
    description: str | Skip = None
    when: WhenSchema | None = None
    notify: bool | list[str] | NotifySpec | None = None
    suppress: bool = False
    aggregate: bool | AggregateSpec | None = None
    digest: Off | Annotated[str, Field(min_length=1)] | DigestSpec | None = None
    tag: Off | Names | TagSpec | None = None
    triage: TriageSpec | None = None  # needs notify and digest (mrt.rules.parse)
    continue_: bool = Field(False, alias="continue")


def keys_of(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(f.alias or name for name, f in model.model_fields.items())


RULE_KEYS = keys_of(RuleSchema)
CONDITION_KEYS = keys_of(WhenSchema)


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
    triage: TriageSpec | None = None  # AI4: notify at once, or to `digest`, by the score

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
        if self.triage is not None:  # its digest is where low scores go, not its plain route
            return "notify"
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
        triage = {} if self.triage is None else {"triage": self.triage.as_json()}
        return triage | {
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

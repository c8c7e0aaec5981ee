"""Config errors for humans: every problem says the file, the dotted path, what was found and
what was expected, and unknown keys get a "did you mean".

pydantic's errors are precise but written for programmers ("Input should be a valid integer,
unable to parse string as an integer"); this module rewrites each into one line such as

    config.toml: sources.github.repos[1]: found 'vllm', expected owner/repo

Values are shown repr'd and truncated, and never for the keys that may hold a secret.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from mrt.config.checks import Expected
from mrt.errors import ConfigError

Loc = tuple[str | int, ...]
MAX_SHOWN = 60
# Keys whose values may carry a secret (a webhook token, a password in a URL): never echoed.
SECRET_KEYS = frozenset({"urls", "url", "base_url", "password", "token", "secret"})


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    message: str
    path: str = ""  # dotted: sources.github.repos[1]
    file: str | None = None

    def line(self) -> str:
        return ": ".join(p for p in (self.file, self.path, self.message) if p)


class InvalidConfig(ConfigError):
    """One or more problems in one config; `str()` gives one line per problem."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        if not problems:
            raise ValueError("InvalidConfig needs at least one problem")
        first = problems[0]
        super().__init__(first.message, file=first.file, path=first.path or None)
        self.problems = tuple(problems)
        self.message = "\n".join(p.line() for p in self.problems)


def format_errors(error: ConfigError | Iterable[ConfigProblem]) -> str:
    """The lines to show a user: one problem per line, no traceback."""
    if isinstance(error, InvalidConfig):
        return error.message
    if isinstance(error, ConfigError):
        return str(error)
    return "\n".join(p.line() for p in error)


def dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = part if part.replace("_", "a").replace("-", "a").isalnum() else repr(part)
            out += f".{name}" if out else name
    return out


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def show_value(value: Any, loc: Loc) -> str:
    names = {p for p in loc if isinstance(p, str)}
    if value is None or value == "":
        return repr(value)  # nothing there to hide: saying "a value" would mislead
    if names & SECRET_KEYS or any("token" in n or "password" in n for n in names):
        if isinstance(value, str) and "://" in value:
            return repr(value.split("://", 1)[0] + "://…") + " (the rest not shown)"
        return "a value (not shown: it may hold a secret)"
    if isinstance(value, list) and len(value) > 3:
        return f"a list of {len(value)} items"
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def allowed_keys(model: type[BaseModel], loc: Loc) -> list[str] | None:
    """The keys a user may write at `loc` inside `model`, or None if that is not a table."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        origin = get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
        elif origin is dict:
            current = get_args(current)[1]
        elif origin is list:
            current = get_args(current)[0]
        else:
            return None
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [name for name, f in current.model_fields.items() if not f.exclude]
    return None


BOOL = 'true or false ("yes"/"no", "1"/"0" also work)'
EXPECTED = {
    "bool_parsing": BOOL,
    "bool_type": BOOL,
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a table of keys (an object)",
    "model_type": "a table of keys (an object)",
    "model_attributes_type": "a table of keys (an object)",
}


def _expected(err: ErrorDetails) -> str:
    kind = err["type"]
    ctx: dict[str, Any] = dict(err.get("ctx") or {})
    if kind in EXPECTED:
        return EXPECTED[kind]
    if kind == "greater_than_equal":
        return f"a number >= {ctx['ge']}"
    if kind == "greater_than":
        return f"a number > {ctx['gt']}"
    if kind == "less_than_equal":
        return f"a number <= {ctx['le']}"
    if kind == "less_than":
        return f"a number < {ctx['lt']}"
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        return f"at least {n} item{'s' if n != 1 else ''}"
    if kind == "too_long":
        return f"at most {ctx.get('max_length')} items"
    if kind == "string_too_short":
        return "a non-empty string"
    if kind == "literal_error":
        choices = str(ctx.get("expected"))
        return f"one of {choices}" if " or " in choices else choices
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return err["msg"][0].lower() + err["msg"][1:]


def problem_from(
    err: ErrorDetails, model: type[BaseModel], file: str | None, prefix: Loc
) -> ConfigProblem:
    loc: Loc = tuple(err["loc"])
    path = dotted(prefix + loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        allowed = allowed_keys(model, loc[:-1]) or []
        hint = did_you_mean(key, allowed)
        if not hint and allowed:
            hint = f"; allowed here: {', '.join(sorted(allowed))}"
        return ConfigProblem(f"unknown key {key!r}{hint}", path, file)
    if kind == "missing":
        return ConfigProblem("required key is missing", path, file)
    if kind == "value_error" and not isinstance((err.get("ctx") or {}).get("error"), Expected):
        # a rule's own sentence ("is_at = true needs ...", "'x' is not of the form owner/repo")
        return ConfigProblem(_expected(err), path, file)
    found = show_value(err.get("input"), prefix + loc)
    if kind == "list_type" and isinstance(err.get("input"), dict) and loc:
        # [rules.x] in TOML makes a table; a list of tables is written [[rules]]
        return ConfigProblem(
            f"found a table, expected a list (in TOML: repeated [[{dotted(prefix + loc)}]] tables)",
            path,
            file,
        )
    if kind == "too_long" and "actual_length" in (err.get("ctx") or {}):
        found = f"{err['ctx']['actual_length']} items"
    return ConfigProblem(f"found {found}, expected {_expected(err)}", path, file)


def problems_from(
    exc: ValidationError, model: type[BaseModel], *, file: str | None, prefix: Loc = ()
) -> list[ConfigProblem]:
    seen: set[tuple[Any, ...]] = set()
    problems: list[ConfigProblem] = []
    for err in exc.errors(include_url=False):
        key = tuple(err["loc"])
        if key in seen:  # one problem per key is enough for a human
            continue
        seen.add(key)
        problems.append(problem_from(err, model, file, prefix))
    return problems

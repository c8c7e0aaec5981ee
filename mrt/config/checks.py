"""Value checks the config models share: cron, time zones, URLs, environment variable names.

Each raises Expected (a ValueError) with a message that reads after "expected" in an error line, so a user
sees what was found and what would have been right. Kept apart from the models so the models stay
a readable list of keys.
"""

from __future__ import annotations

import re
import types
import zoneinfo
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")


class Expected(ValueError):
    """A value is wrong; the message says what was expected (the error shows what was found)."""


def env_name(name: str) -> str:
    if not ENV_NAME.fullmatch(name):
        raise Expected(
            "the name of an environment variable (letters, digits and _, not starting with a "
            "digit; the secret itself goes in the environment, never in the file)"
        )
    return name


def placeholders(text: str) -> list[str]:
    """The `${NAME}` placeholders in `text`, in order (names are not validated here)."""
    return PLACEHOLDER.findall(text)


def check_placeholders(text: str) -> str:
    for name in placeholders(text):
        if not ENV_NAME.fullmatch(name):
            raise Expected("${NAME} placeholders naming a variable (letters, digits and _)")
    if "${" in PLACEHOLDER.sub("", text):
        raise Expected("a closed ${NAME} placeholder (a '}' is missing)")
    return text


CRON_SHAPE = (
    "a cron expression of 5 fields (minute hour day month weekday), e.g. '0 9 * * 1-5', "
    "or @hourly/@daily/@weekly"
)


def cron(expr: str) -> str:
    # Imported here: croniter (with dateutil) costs ~50 ms at import, for every `import
    # mrt.config`, while most configs have no cron field at all.
    from croniter import croniter

    fields = expr.split()
    if not expr.strip().startswith("@") and len(fields) != 5:
        # croniter reads a 6th field as seconds ('* * * * * *' polls every second for a minute)
        # and a 7th as the year: neither is a schedule a tracker needs, so refuse both
        extra = " (a 6th field would be seconds: not supported)" if len(fields) == 6 else ""
        raise Expected(f"{CRON_SHAPE}; this one has {len(fields)} fields{extra}")
    if not croniter.is_valid(expr):
        raise Expected(CRON_SHAPE)
    return expr


def timezone(name: str) -> str:
    if name == "UTC":
        return name
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise Expected("an IANA time zone name such as 'UTC' or 'Asia/Shanghai'") from None
    return name


def http_url(url: str) -> str:
    """A base URL: http(s)://host[:port][/path]."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        raise Expected("an http:// or https:// URL with a valid host and port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Expected("an http:// or https:// URL, e.g. 'https://api.github.com'")
    return url


def channel_url(url: str) -> str:
    """An Apprise URL (scheme://...), or one whole `${NAME}` placeholder holding it."""
    check_placeholders(url)
    if PLACEHOLDER.fullmatch(url):
        return url
    if not URL_SCHEME.match(url):
        raise Expected(
            "an Apprise URL of the form scheme://..., e.g. 'slack://${SLACK_TOKENS}' or "
            "'${SLACK_URL}'"
        )
    return url


def database_url(url: str) -> str:
    check_placeholders(url)
    if not url.startswith(("postgresql://", "postgres://")):
        raise Expected(
            "a postgresql://user@host/db URL (put the password in PGPASSWORD or a ${NAME} "
            "placeholder); for SQLite use state.sqlite_path"
        )
    return url


def backfill(value: str) -> str:
    if value == "none":
        return value
    keyword, _, day = value.partition(" ")
    try:
        if keyword != "since":
            raise ValueError("not 'since'")
        date.fromisoformat(day.strip())
    except ValueError:
        raise Expected("'none' or 'since YYYY-MM-DD'") from None
    return value


def sqlite_file(path: str) -> str:
    """The SQLite database file; a directory there would fail only when the worker opens it."""
    if Path(path).expanduser().is_dir():
        raise Expected(
            "the path of a database file, not a directory (e.g. "
            f"{str(Path(path) / 'mrt.sqlite3')!r})"
        )
    return path


def number_not_bool(value: Any, annotation: Any) -> Any:
    """true/false where a number is expected is an error, not 1/0 (pydantic's lax mode)."""
    if isinstance(value, bool):
        kind = _number_kind(annotation)
        if kind is not None:
            raise Expected(f"{kind}; true/false is not a number")
    return value


def _number_kind(annotation: Any) -> str | None:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _number_kind(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        kinds = [_number_kind(a) for a in get_args(annotation) if a is not type(None)]
        return next((k for k in kinds if k), None)
    if origin is Literal:
        ints = [a for a in get_args(annotation) if type(a) is int]
        return " or ".join(map(str, ints)) if ints else None
    if annotation is int:
        return "a whole number"
    if annotation is float:
        return "a number"
    return None


def email_address(address: str) -> str:
    local, at, domain = address.rpartition("@")
    if not at or not local or "." not in domain or " " in address:
        raise Expected("an email address such as 'ops@example.com'")
    return address

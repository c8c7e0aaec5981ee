"""How times, ages and errors read on screen: short, plain, and relative to the console's clock.

Text from upstream, from an error or typed by the operator is shown through `plain`: a Rich
`Text`, never a markup string (`[/INST]` must not crash the console, `[Bug]` must not vanish),
made inert by mrt.inert (no escape, control, bidi or zero-width character reaches the terminal).
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from rich.text import Text

from mrt.inert import inert_text
from mrt.timefmt import relative


def plain(value: object, max_chars: int = 300, *, multiline: bool = False, style: str = "") -> Text:
    """Upstream, error or typed text as a Text: inert, bounded, never parsed as markup."""
    return Text(inert_text(value, max_chars=max_chars, multiline=multiline), style=style)


def inert(value: object, max_chars: int = 300, *, multiline: bool = False) -> str:
    """The same as a str, for Text.append and for building longer lines."""
    return inert_text(value, max_chars=max_chars, multiline=multiline)


def age(then: datetime | None, now: datetime) -> str:
    """ "12s ago", "3h04m ago", "in 3m" (mrt.timefmt, as everywhere); "never" for None."""
    return "never" if then is None else relative(then, now)


def stamp(when: datetime | None) -> str:
    return when.strftime("%m-%d %H:%M") if when else "-"


def full_stamp(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S UTC") if when else "-"


_HTTP_WORDS = {
    400: "the target rejected the message as malformed",
    401: "the target refused our credentials",
    403: "the target refused access (token or robot permissions)",
    404: "the target does not exist (wrong or deleted webhook/robot?)",
    413: "the message was too large for the target",
    429: "the target asked us to slow down",
    500: "the target had an internal error",
    502: "a gateway in front of the target failed",
    503: "the target was unavailable",
    504: "a gateway timed out waiting for the target",
}


def plain_error(text: str | None) -> str:
    """A stored error as an operator reads it: what happened first, the raw detail after."""
    if not text:
        return ""
    lowered = text.lower()
    match = re.search(r"\b(?:http|status)\D{0,3}(\d{3})\b", lowered)
    if match and int(match.group(1)) in _HTTP_WORDS:
        return f"{_HTTP_WORDS[int(match.group(1))]} ({text})"
    if "timed out" in lowered or "timeout" in lowered:
        return f"no answer in time ({text})"
    if "refused" in lowered or "unreachable" in lowered or "name or service" in lowered:
        return f"could not reach the target ({text})"
    return text


def safe_target(target: str) -> str:
    """A database target fit for the screen: a URL's password is replaced by ***."""
    if "://" not in target:
        return target
    parts = urlsplit(target)
    if parts.password is None:
        return target
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))

"""How MRT reads a moment given on the command line or in the console (`--since`, `--until`):
the other direction of mrt.timefmt, which writes spans.

    parse_since("30d", now=now)         -> now - 30 days     (also 12h, 90m, 2w)
    parse_since("2026-11-01", now=now)  -> that day at 00:00, in now's time zone (UTC)
    parse_since("2026-11-01T08:00:00+08:00", now=now) -> that moment, with its own offset

Anything else is a ConfigError that names what was found and what was expected. Used by
`mrt rules test`, `mrt replay`, `mrt silence` and the console's rules and replay screens.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from mrt.errors import ConfigError

_SPAN = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, *, now: datetime) -> datetime:
    """`30d`, `12h`, `90m`, `2w`, or an ISO date/time (UTC when no offset is given)."""
    span = _SPAN.match(text)
    if span:
        return now - timedelta(**{_UNITS[span.group(2)]: int(span.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"--since: expected a span such as 30d, 12h, 90m, 2w or a date such as "
            f"2026-11-01, found {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=now.tzinfo)
    return moment

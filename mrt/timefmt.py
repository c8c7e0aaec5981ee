"""How MRT writes a span of time, in every output: CLI tables and sentences, the console, the
reasons stored on the outbox. One format, so "5m" in `mrt sources` is "5m" in `mrt-tui`:

    duration(45)    -> "45s"        under a minute: seconds
    duration(300)   -> "5m"         under an hour: minutes
    duration(11040) -> "3h04m"      under a day: hours and minutes ("3h" on the hour)
    duration(183600)-> "2d3h"       days and hours ("2d" on the day)

Spans are truncated, never rounded up (59.9 s is "59s"): an age never claims more time than has
passed. A negative span is written as its size; `relative` says which side of now it is on.
"""

from __future__ import annotations

from datetime import datetime


def duration(seconds: float) -> str:
    """A span of time as MRT shows it everywhere ("45s", "5m", "3h04m", "2d3h")."""
    whole = int(abs(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m"
    if whole < 86400:
        hours, minutes = divmod(whole // 60, 60)
        return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
    days, hours = divmod(whole // 3600, 24)
    return f"{days}d{hours}h" if hours else f"{days}d"


def relative(moment: datetime, now: datetime) -> str:
    """`moment` seen from `now`: "3m ago", or "in 3m" for the future."""
    seconds = (moment - now).total_seconds()
    span = duration(seconds)
    return f"in {span}" if seconds > 0 else f"{span} ago"

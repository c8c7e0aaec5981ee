"""When a source is next due: an interval or a cron expression, plus jitter."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from mrt.config import Config, SourceSection


def next_poll_time(
    section: SourceSection, config: Config, now: datetime, rng: random.Random
) -> datetime:
    """The next due time after `now`; cron (in its time zone) wins over an interval."""
    jitter = (
        timedelta(seconds=rng.uniform(0, section.jitter_seconds))
        if section.jitter_seconds
        else timedelta()
    )
    if section.cron:
        local = now.astimezone(ZoneInfo(section.timezone))
        nxt: datetime = croniter(section.cron, local).get_next(datetime)
        return nxt.astimezone(now.tzinfo) + jitter
    interval = section.interval_seconds or config.poll_interval_seconds
    return now + timedelta(seconds=interval) + jitter

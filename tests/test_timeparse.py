"""mrt.timeparse.parse_since: how `--since`/`--until` (CLI and console) read a moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from mrt.errors import ConfigError
from mrt.timeparse import parse_since

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", datetime(2026, 10, 23, 12, 0, tzinfo=UTC)),
        ("12h", datetime(2026, 11, 22, 0, 0, tzinfo=UTC)),
        ("90m", datetime(2026, 11, 22, 10, 30, tzinfo=UTC)),
        ("2w", datetime(2026, 11, 8, 12, 0, tzinfo=UTC)),
        (" 3 d ", datetime(2026, 11, 19, 12, 0, tzinfo=UTC)),  # spaces around and inside
        ("0h", NOW),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),  # no offset: now's zone (UTC)
        ("2026-11-01T08:30", datetime(2026, 11, 1, 8, 30, tzinfo=UTC)),
        (" 2026-11-01 ", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T08:00:00+08:00", datetime(2026, 11, 1, 0, 0, tzinfo=UTC)),
    ],
)
def test_spans_and_dates(text: str, expected: datetime) -> None:
    assert parse_since(text, now=NOW) == expected


def test_an_offset_given_is_kept() -> None:
    moment = parse_since("2026-11-01T08:00:00+08:00", now=NOW)
    assert moment.utcoffset() == timedelta(hours=8)


def test_a_date_without_offset_takes_the_zone_of_now() -> None:
    zone = timezone(timedelta(hours=-5))
    assert parse_since("2026-11-01", now=NOW.astimezone(zone)).tzinfo == zone


@pytest.mark.parametrize("text", ["soon", "", "30", "5y", "-3d", "3 days", "2026-13-01"])
def test_nonsense_is_a_config_error_naming_what_was_found(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_since(text, now=NOW)
    assert str(caught.value) == (
        "--since: expected a span such as 30d, 12h, 90m, 2w or a date such as "
        f"2026-11-01, found {text!r}"
    )

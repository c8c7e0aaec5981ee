"""One duration format for all output (mrt.timefmt): its cases, and the places that use it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import peewee
import pytest
from test_outbox_support import enqueue_alerts

from mrt.cli import main
from mrt.commands.sources import relative as sources_relative
from mrt.delivery.base import Target
from mrt.events import utcnow
from mrt.retry import RetryPolicy
from mrt.store.models import database_proxy
from mrt.timefmt import duration, relative
from tui.formatting import age

NOW = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)
SPAN = timedelta(hours=3, minutes=4, seconds=30)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (59.9, "59s"),  # truncated: an age never claims more time than has passed
        (60, "1m"),
        (3599, "59m"),
        (3600, "1h"),
        (3 * 3600 + 4 * 60 + 59, "3h04m"),
        (86399, "23h59m"),
        (86400, "1d"),
        (2 * 86400 + 3 * 3600 + 59 * 60, "2d3h"),
        (40 * 86400, "40d"),
        (-300, "5m"),  # a span has no sign; relative() says which side of now
    ],
)
def test_duration_cases(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_relative_says_which_side_of_now() -> None:
    assert relative(NOW - timedelta(minutes=75), NOW) == "1h15m ago"
    assert relative(NOW + timedelta(minutes=3), NOW) == "in 3m"
    assert relative(NOW, NOW) == "0s ago"


def test_every_output_writes_the_same_span_the_same_way(
    db: peewee.Database, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the console, `mrt sources`, a dead delivery's reason, and `mrt outbox`'s summary
    assert age(NOW - SPAN, NOW) == "3h04m ago"
    assert sources_relative(NOW - SPAN, NOW) == "3h04m ago"
    policy = RetryPolicy(max_attempts=10, max_age_seconds=3600, backoff_base_seconds=1,
                         backoff_max_seconds=60)
    reason = policy.gives_up(attempts=1, age_seconds=SPAN.total_seconds(), retryable=True)
    assert reason == "gave up after 3h04m (max_age_seconds 3600)"

    target = Target(channel="team", key="json://127.0.0.1/hook", url="json://127.0.0.1/hook")
    enqueue_alerts(utcnow() - SPAN, [target])
    assert main(["outbox", "--db", str(db_path)]) == 0
    database_proxy.initialize(db)
    assert "oldest unsent 3h04m old" in capsys.readouterr().out

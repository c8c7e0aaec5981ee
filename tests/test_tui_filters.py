"""The `/` filter line and the plain-words formatting the console shows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tui_seed import NOW

from mrt.store.views import AlertFilter, OutboxFilter
from tui.filters import FilterSyntaxError, describe, parse_alert_filter, parse_outbox_filter
from tui.formatting import age, plain_error, safe_target


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("", AlertFilter()),
        ("deepseek v3", AlertFilter(text="deepseek v3")),
        ("source:github:vllm prio:high", AlertFilter(source="github:vllm", priority="high")),
        (
            "rule:models status:dead fp8",
            AlertFilter(text="fp8", rule="models", delivery_status="dead"),
        ),
        ('"two words" priority:critical', AlertFilter(text="two words", priority="critical")),
        ("https://github.com/x", AlertFilter(text="https://github.com/x")),
    ],
)
def test_alert_filter_line(line: str, expected: AlertFilter) -> None:
    assert parse_alert_filter(line) == expected
    assert parse_alert_filter(describe(expected)) == expected  # written back, read again


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("prio:urgent", "priority 'urgent' is not one of low, normal, high, critical"),
        ("status:lost", "status 'lost' is not one of dead"),
        ("colour:red", "unknown filter colour: (known: ack:, acked:, delivery:, prio:, priority:"),
        ('"open', "unbalanced quotes"),
    ],
)
def test_bad_filter_lines_say_what_is_wrong(line: str, message: str) -> None:
    with pytest.raises(FilterSyntaxError, match=message.replace("(", r"\(")):
        parse_alert_filter(line)


def test_outbox_filter_line() -> None:
    assert parse_outbox_filter("status:dead channel:welink 404") == OutboxFilter(
        status="dead", channel="welink", text="404"
    )
    with pytest.raises(FilterSyntaxError, match="unknown filter rule:"):
        parse_outbox_filter("rule:x")


def test_age_reads_relative_to_the_console_clock() -> None:
    assert age(None, NOW) == "never"
    assert age(NOW - timedelta(seconds=5), NOW) == "5s ago"
    assert age(NOW - timedelta(minutes=75), NOW) == "1h15m ago"
    assert age(NOW - timedelta(days=2, hours=3), NOW) == "2d3h ago"
    assert age(NOW + timedelta(minutes=3), NOW) == "in 3m"


def test_plain_error_words_first_detail_after() -> None:
    assert plain_error("HTTP 404 from the robot").startswith("the target does not exist")
    assert plain_error("HTTP 404 from the robot").endswith("(HTTP 404 from the robot)")
    assert plain_error("timed out after 20 s").startswith("no answer in time")
    assert plain_error("Connection refused").startswith("could not reach the target")
    assert plain_error("something odd") == "something odd"
    assert plain_error(None) == ""


def test_safe_target_hides_a_password() -> None:
    assert safe_target("postgresql://mrt:s3cret@db.internal:5432/mrt") == (
        "postgresql://mrt:***@db.internal:5432/mrt"
    )
    assert safe_target("postgresql://db.internal/mrt") == "postgresql://db.internal/mrt"
    assert safe_target("/var/lib/mrt/mrt.sqlite3") == "/var/lib/mrt/mrt.sqlite3"

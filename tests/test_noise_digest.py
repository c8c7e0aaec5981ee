"""Digests driven by an injected clock: loopback GitHub, real rules, real SQLite, no sleeping.

A daily digest at 09:00 Asia/Shanghai (01:00 UTC) collects a day of closed issues and pull
requests; 08:59 local sends nothing, 09:00 sends one summary (counts per source and rule, the
list with links, "and N more"), and the next day's digest holds only the new items.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import peewee
from pytest_httpserver import HTTPServer
from test_noise_support import REPO, cycle, make_engine
from test_source_support import T0, FakeGitHub, close, recorded_issues

from mrt.config import ChannelConfig, DigestConfig
from mrt.noise.digest import flush_due_digests, last_scheduled
from mrt.pipeline import Engine
from mrt.store.models import Alert, AlertEvent, DigestItem, DigestSchedule, Event, Outbox

SHANGHAI_9AM_NOV_23 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
RULES = [
    {"name": "closed-issues", "when": {"event_type": "issue_closed"}, "digest": "daily"},
    {"name": "closed-prs", "when": {"event_type": "pr_closed"}, "digest": "daily"},
]


def digest_engine(db: peewee.Database, server: HTTPServer, max_items: int = 5) -> Engine:
    return make_engine(
        db,
        server,
        RULES,
        channels={
            "hook": ChannelConfig(urls=[f"json://127.0.0.1:{server.port}/hook"]),
            "short": ChannelConfig(urls=[f"json://127.0.0.1:{server.port}/short"], max_length=300),
        },
        digests={
            "daily": DigestConfig(
                cron="0 9 * * *",
                timezone="Asia/Shanghai",
                channels=["hook", "short"],
                max_items=max_items,
            )
        },
    )


def flush(engine: Engine, at: datetime) -> int:
    return flush_due_digests(engine.db, engine.renderer, engine.targets, at)


def close_over_a_day(engine: Engine, issues: list[dict[str, Any]], count: int) -> list[int]:
    """Close `count` items (issues and pull requests alternating where possible), one an hour
    from 18:00 Shanghai time, each seen by its own cycle."""
    plain = [i for i in issues if "pull_request" not in i]
    pulls = [i for i in issues if "pull_request" in i]
    order = [x for pair in zip(plain, pulls, strict=False) for x in pair] + plain[len(pulls) :]
    closed = []
    for n, item in enumerate(order[:count]):
        at = T0 + timedelta(hours=1 + n)
        close(item, at - timedelta(seconds=30))
        assert cycle(engine, at).outcome == "ok"
        closed.append(item["number"])
    return closed


def test_the_schedule_is_time_zone_aware() -> None:
    nine = SHANGHAI_9AM_NOV_23
    assert last_scheduled("0 9 * * *", "Asia/Shanghai", nine) == nine
    assert last_scheduled("0 9 * * *", "Asia/Shanghai", nine - timedelta(seconds=1)) == nine - timedelta(days=1)
    assert last_scheduled("0 9 * * *", "UTC", nine) == datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    # Berlin skips 02:30 on 29 March 2026: croniter fires at the next existing minute
    spring = last_scheduled("30 2 * * *", "Europe/Berlin", datetime(2026, 3, 29, 1, 30, tzinfo=UTC))
    assert spring == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def test_a_day_of_items_becomes_one_digest_at_nine_shanghai_time_and_the_next_holds_only_new_ones(
    db: peewee.Database, httpserver: HTTPServer
) -> None:
    engine = digest_engine(db, httpserver)
    issues = recorded_issues()
    FakeGitHub(httpserver, REPO, issues)
    cycle(engine, T0)  # baseline, 17:00 in Shanghai
    closed = close_over_a_day(engine, issues, 12)  # 18:00 .. 05:00 Shanghai time
    assert DigestItem.select().count() == 12 and Outbox.select().count() == 0
    assert {e.decision for e in Event.select()} == {"digest"}

    # 08:59 local: the last firing (yesterday 09:00) was before the first item: nothing
    assert flush(engine, SHANGHAI_9AM_NOV_23 - timedelta(minutes=1)) == 0
    assert Alert.select().count() == 0

    assert flush(engine, SHANGHAI_9AM_NOV_23) == 1
    alert = Alert.get()
    assert alert.kind == "digest" and alert.group_key == "digest:daily"
    assert alert.payload["items"] == 12 and alert.payload["by_source"] == {f"github:{REPO}": 12}
    assert alert.payload["by_rule"] == {"closed-issues": 6, "closed-prs": 6}
    assert AlertEvent.select().where(AlertEvent.alert == alert).count() == 12
    assert DigestItem.select().where(DigestItem.sent_at.is_null()).count() == 0
    rows = {r.channel: r for r in Outbox.select().where(Outbox.alert == alert)}
    assert set(rows) == {"hook", "short"}

    hook = rows["hook"].body
    assert hook.startswith("[MRT] Digest daily · 12 updates")
    assert f"By source: {REPO} on GitHub 12" in hook
    assert "By rule: closed-issues 6; closed-prs 6" in hook
    assert hook.count("\n- ") == 5 and hook.rstrip().endswith("and 7 more")  # max_items 5
    first = next(i for i in issues if i["number"] == closed[0])
    assert first["html_url"] in hook

    short = rows["short"].body  # the channel's limit trims the list further
    assert len(short) <= 300 and "12 updates" in short
    listed = short.count("\n- ")
    assert listed < 5 and short.rstrip().endswith(f"and {12 - listed} more")

    # a second flush at the same firing, and later that day, sends nothing more
    assert flush(engine, SHANGHAI_9AM_NOV_23) == 0
    assert flush(engine, SHANGHAI_9AM_NOV_23 + timedelta(hours=2)) == 0

    # an item closed after 09:00 waits for the next day's 09:00, alone
    late = T0 + timedelta(hours=18)  # 03:00 UTC, 11:00 in Shanghai
    newest = next(i for i in issues if "pull_request" not in i and i["number"] not in closed)
    close(newest, late - timedelta(seconds=30))
    cycle(engine, late)
    assert flush(engine, late + timedelta(minutes=1)) == 0
    next_day = SHANGHAI_9AM_NOV_23 + timedelta(days=1)
    assert flush(engine, next_day - timedelta(minutes=1)) == 0
    assert flush(engine, next_day) == 1
    second = Alert.select().order_by(Alert.id.desc()).get()
    assert second.payload["items"] == 1
    body = Outbox.get((Outbox.alert == second) & (Outbox.channel == "hook")).body
    assert "1 update\n" in body and newest["html_url"] in body and first["html_url"] not in body
    assert "more" not in body

    # the day after, nothing is pending: an empty digest sends nothing, yet is recorded
    assert flush(engine, next_day + timedelta(days=1)) == 0
    assert Alert.select().count() == 2
    assert DigestSchedule.get_by_id("daily").last_fired_at == next_day + timedelta(days=1)


def test_a_digest_first_seen_with_nothing_queued_starts_from_that_firing(
    db: peewee.Database, httpserver: HTTPServer
) -> None:
    """The worker's first tick records the schedule; an item queued later waits for 09:00."""
    engine = digest_engine(db, httpserver)
    issues = recorded_issues()
    FakeGitHub(httpserver, REPO, issues)
    cycle(engine, T0)
    assert flush(engine, T0) == 0  # 17:00 in Shanghai, nothing queued
    recorded = DigestSchedule.get_by_id("daily").last_fired_at
    assert recorded == SHANGHAI_9AM_NOV_23 - timedelta(days=1)
    close_over_a_day(engine, issues, 1)  # queued at 18:00 Shanghai time
    assert flush(engine, T0 + timedelta(hours=1, minutes=5)) == 0
    assert Alert.select().count() == 0
    assert flush(engine, SHANGHAI_9AM_NOV_23) == 1
    assert Alert.get().payload["items"] == 1


def test_digest_text_is_cleaned_and_email_gets_a_subject() -> None:
    from mrt.config import Config
    from mrt.delivery.digest_render import DigestEntry, render_digest
    from mrt.events import TrackerEvent

    config = Config(
        channels={
            "mail": ChannelConfig(urls=["mailtos://u:${SMTP_PASSWORD}@smtp.example.org?to=a@b.org"]),
            "robot": ChannelConfig(urls=["welink://tok@127.0.0.1:9/robot?secure=no"]),
        }
    )

    def entry(n: int, rule: str) -> DigestEntry:
        event = TrackerEvent(
            source="github", source_key=f"github:o/r{n % 2}", resource_type="issue",
            resource_id=f"o/r{n % 2}#{n}", event_type="issue_opened", event_id=str(n),
            title=f"@all {{{{ 7*7 }}}} question {n} " + "long words " * 8,
            url=f"https://github.com/o/r{n % 2}/issues/{n}",
        )
        return DigestEntry(event, rule, "low")

    entries = [entry(n, "questions" if n % 3 else "docs") for n in range(30)]
    mail = render_digest(config, "mail", "daily", entries, max_items=25)
    assert mail.subject == "[MRT] Digest daily: 30 updates"
    assert "@all" not in mail.body and "{{ 7*7 }}" in mail.body  # data, never a mention/template
    assert "By source: o/r0 on GitHub 15; o/r1 on GitHub 15" in mail.body
    assert "By rule: questions 20; docs 10" in mail.body
    assert mail.body.count("\n- ") == 25 and mail.body.endswith("and 5 more")

    robot = render_digest(config, "robot", "daily", entries, max_items=25)  # WeLink: 500 chars
    assert robot.subject == "" and len(robot.body) <= 500
    listed = robot.body.count("\n- ")
    assert 0 < listed < 25 and robot.body.endswith(f"and {30 - listed} more")

"""The console's read queries (mrt.store.views) and acknowledge, on a real SQLite file."""

from __future__ import annotations

from datetime import timedelta

import peewee
import pytest
from tui_seed import NOW, SOURCES, add_alert, add_cycle, add_source, bulk_alerts, console_scene

from mrt.store import views
from mrt.store.alerts import acknowledge
from mrt.store.models import Alert, DeliveryAttempt, Outbox


def test_alert_pages_are_keyset_and_newest_first(db: peewee.Database) -> None:
    bulk_alerts(250)
    first = views.alerts_page(views.AlertFilter(), limit=100)
    second = views.alerts_page(views.AlertFilter(), before_id=first[-1].id, limit=100)
    assert [r.id for r in first] == sorted((r.id for r in first), reverse=True)
    assert first[-1].id > second[0].id
    assert len({r.id for r in first} | {r.id for r in second}) == 200


def test_filters_reach_rows_beyond_the_first_page(db: peewee.Database) -> None:
    target = add_alert(
        "Needle in the haystack",
        at=NOW - timedelta(days=30),
        priority="critical",
        rule="needle-rule",
        source_key="modelscope:needle",
    )
    bulk_alerts(5000)
    # The needle is the oldest alert: far past any first page.
    assert target not in {r.id for r in views.alerts_page(views.AlertFilter(), limit=100)}
    for flt in (
        views.AlertFilter(text="needle in"),
        views.AlertFilter(source="modelscope:nee"),
        views.AlertFilter(rule="needle-rule"),
        views.AlertFilter(priority="critical"),
    ):
        assert [r.id for r in views.alerts_page(flt, limit=10)] == [target], flt
    # A rule filter matches the exact name, not a prefix of another.
    assert views.alerts_page(views.AlertFilter(rule="needle"), limit=10) == []


def test_like_metacharacters_are_literal(db: peewee.Database) -> None:
    add_alert("100% done")
    add_alert("1000 done")
    assert [r.title for r in views.alerts_page(views.AlertFilter(text="100%"))] == ["100% done"]


def test_delivery_status_filter_and_counts(db: peewee.Database) -> None:
    dead = add_alert("Dead one", deliveries=(("welink", "w://1", "dead", "HTTP 404"),))
    add_alert("Sent one")
    rows = views.alerts_page(views.AlertFilter(delivery_status="dead"))
    assert [r.id for r in rows] == [dead]
    assert rows[0].deliveries == {"dead": 1}


def test_newer_than_returns_only_new_rows_and_their_count(db: peewee.Database) -> None:
    bulk_alerts(10)
    newest = views.alerts_page(views.AlertFilter(), limit=1)[0].id
    assert views.alerts_newer(views.AlertFilter(), after_id=newest) == ([], 0)
    a = add_alert("New A")
    b = add_alert("New B")
    rows, total = views.alerts_newer(views.AlertFilter(), after_id=newest, limit=1)
    assert total == 2 and [r.id for r in rows] == [b]
    assert a < b


def test_alert_detail_has_event_reasons_and_every_attempt(db: peewee.Database) -> None:
    alert_id = add_alert(
        "DeepSeek-V3",
        reasons=("title contained 'DeepSeek'",),
        deliveries=(
            ("welink", "w://robot", "dead", "HTTP 404"),
            ("email", "mailto://x", "sent", None),
        ),
    )
    detail = views.alert_detail(alert_id)
    assert detail is not None
    assert detail.matched == (("watch_keywords", ("title contained 'DeepSeek'",)),)
    assert detail.url.startswith("https://")
    assert [(d.channel, d.status, len(d.tries)) for d in detail.deliveries] == [
        ("welink", "dead", 1),
        ("email", "sent", 1),
    ]
    assert detail.deliveries[0].tries[0].http_status == 502
    assert views.alert_detail(999_999) is None


def test_acknowledge_sets_time_and_person_once(db: peewee.Database) -> None:
    ids = [add_alert(f"A{i}") for i in range(3)]
    assert acknowledge(ids[:2], by="tui", now=NOW) == 2
    assert acknowledge(ids, by="other", now=NOW + timedelta(hours=1)) == 1
    first = Alert.get_by_id(ids[0])
    assert first.acknowledged_at == NOW and first.acknowledged_by == "tui"
    assert acknowledge([], by="tui", now=NOW) == 0


def test_outbox_pages_put_dead_letters_first(db: peewee.Database) -> None:
    for i in range(30):
        status = ("sent", "dead", "retrying")[i % 3]
        add_alert(
            f"X{i}", deliveries=(("welink", "w://1", status, "boom" if status != "sent" else None),)
        )
    rows, nxt = views.outbox_page(views.OutboxFilter(), limit=12)
    assert [r.status for r in rows] == ["dead"] * 10 + ["retrying"] * 2
    assert nxt is not None
    more, _ = views.outbox_page(views.OutboxFilter(), start=nxt, limit=100)
    assert [r.status for r in more] == ["retrying"] * 8 + ["sent"] * 10
    assert len({r.id for r in rows + more}) == 30


def test_outbox_filter_and_ceiling(db: peewee.Database) -> None:
    add_alert("A", source_key=SOURCES[0], deliveries=(("welink", "w://1", "dead", "HTTP 404"),))
    add_alert("B", source_key=SOURCES[1], deliveries=(("welink", "w://1", "dead", "timeout"),))
    ceiling = views.outbox_ceiling()
    add_alert("C", source_key=SOURCES[0], deliveries=(("welink", "w://1", "dead", "HTTP 404"),))
    flt = views.OutboxFilter(status="dead", source=SOURCES[0])
    assert views.count_outbox(flt) == 2
    assert views.count_outbox(flt, max_id=ceiling) == 1
    assert views.count_outbox(views.OutboxFilter(text="timeout")) == 1
    assert views.outbox_status_counts() == {"dead": 3}


def test_source_rows_and_console_status(db: peewee.Database) -> None:
    add_source(SOURCES[0], consecutive_failures=2, last_error="HTTP 502")
    rows = views.source_rows()
    assert rows[0].key == SOURCES[0] and rows[0].consecutive_failures == 2
    status = views.console_status()
    assert status.data_at == NOW - timedelta(minutes=2)
    assert status.heartbeat_at is None and status.newest_alert_id == 0


def test_metrics_per_source_overall_and_series(db: peewee.Database) -> None:
    console_scene()
    Outbox.update(status="pending").where(Outbox.status == "retrying").execute()
    day = views.metrics_report(NOW, timedelta(hours=24), buckets=24)
    assert day.overall.alerts == 12
    assert day.per_source[SOURCES[0]].alerts == 4
    assert day.overall.events == sum(f.events for f in day.per_source.values())
    assert sum(day.series["events"]) == day.overall.events
    assert sum(day.series["alerts"]) == 12
    sent = DeliveryAttempt.select().where(DeliveryAttempt.outcome == "sent").count()
    assert day.overall.deliveries_ok == sent
    assert day.overall.deliveries_failed == DeliveryAttempt.select().count() - sent
    assert day.queue.dead == 3 and day.queue.depth == 3
    assert day.queue.oldest_pending_at is not None
    # The window is measured back from `now`: a week later the day is empty, the queue is not.
    later = views.metrics_report(NOW + timedelta(days=7), timedelta(hours=24))
    assert later.overall.alerts == 0 and later.queue.dead == 3
    week = views.metrics_report(NOW, timedelta(days=7), buckets=28)
    assert week.overall.events == day.overall.events
    add_cycle(SOURCES[0], NOW - timedelta(days=3), new_events=5, matched=1, alerts=0)
    assert views.metrics_report(NOW, timedelta(days=7)).overall.events == day.overall.events + 5


@pytest.mark.parametrize("status", ["dead", "sent"])
def test_status_filter_reads_one_group(db: peewee.Database, status: str) -> None:
    add_alert("A", deliveries=(("welink", "w://1", "dead", "x"), ("email", "m://", "sent", None)))
    rows, nxt = views.outbox_page(views.OutboxFilter(status=status))
    assert [r.status for r in rows] == [status] and nxt is None

"""An alert that went to no one (no outbox row at all) is counted, listed and explained.

A real SQLite file; the alerts are written as the pipeline writes one whose rules named a channel
the config lacks (the event's decision records `missing_channels`), as an aggregate whose
channels all failed records `channel_problems`, and as v0's history (sent by v0: not a gap).
"""

from __future__ import annotations

from datetime import timedelta

import peewee
from tui_seed import NOW, add_alert

from mrt.ops.explain import alert_detail, trace
from mrt.store.models import Alert, Event
from mrt.store.views import (
    AlertFilter,
    alerts_page,
    metrics_report,
    undelivered_alerts,
)
from tui.widgets.alert_detail import detail_text


def seed() -> dict[str, int]:
    ids = {
        "sent": add_alert("delivered"),
        "missing": add_alert("to a channel that is gone", deliveries=()),
        "old": add_alert("long ago", deliveries=(), at=NOW - timedelta(days=30)),
    }
    Event.update(
        decision_detail={"action": "notify", "channels": ["gone"], "missing_channels": ["gone"]}
    ).where(Event.title == "to a channel that is gone").execute()
    ids["aggregate"] = int(
        Alert.create(kind="aggregate", title="3 updates", source_key="github:a/b", created_at=NOW,
                     payload={"channel_problems": {"ops": "channel not configured"}}).id
    )
    ids["v0"] = int(Alert.create(kind="v0", title="from v0", created_at=NOW).id)
    return ids


def test_they_are_counted_listed_and_filtered(db: peewee.Database) -> None:
    ids = seed()

    newest_first = [ids["aggregate"], ids["old"], ids["missing"]]  # by id
    assert undelivered_alerts() == (3, newest_first)
    assert undelivered_alerts(since=NOW - timedelta(days=7))[0] == 2
    rows = {r.id: r for r in alerts_page(AlertFilter())}
    assert [i for i, r in rows.items() if r.undelivered] == newest_first
    assert not rows[ids["v0"]].undelivered and not rows[ids["sent"]].undelivered
    nowhere = alerts_page(AlertFilter(delivery_status="none"))
    assert [r.id for r in nowhere] == newest_first


def test_metrics_count_them_per_source_and_overall(db: peewee.Database) -> None:
    seed()
    report = metrics_report(NOW + timedelta(minutes=1), timedelta(days=1))
    assert report.overall.undelivered == 2
    assert report.per_source["github:a/b"].undelivered == 1


def test_the_detail_and_the_trace_say_why(db: peewee.Database) -> None:
    ids = seed()
    detail = alert_detail(ids["missing"])
    assert detail is not None and detail.undelivered is not None
    assert "not configured: gone" in detail.undelivered
    # the console and `mrt trace` word it with the same function (mrt.ops.explain)
    assert trace(f"#{ids['missing']}").alerts[0].undelivered == detail.undelivered
    aggregate = trace(f"#{ids['aggregate']}").alerts[0]
    assert aggregate.undelivered == "this alert went to no one (ops: channel not configured)"
    assert trace(f"#{ids['sent']}").alerts[0].undelivered is None
    assert trace(f"#{ids['v0']}").alerts[0].undelivered is None


def test_a_channel_missing_beside_a_delivered_one_is_shown(db: peewee.Database) -> None:
    alert_id = add_alert("half delivered")
    Event.update(
        decision_detail={"action": "notify", "channels": ["welink", "gone"],
                         "missing_channels": ["gone"]}
    ).where(Event.title == "half delivered").execute()
    detail = alert_detail(alert_id)
    assert detail is not None and detail.undelivered is None
    assert detail.missing_channels == ("gone",)
    assert "not sent to gone: not configured" in detail_text(detail, NOW).plain

"""The quarantine store: an item is news once; seeing it again counts; per-source summaries and
the metrics' window count. Run on SQLite and (when available) PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import peewee

from mrt.source_kit.contract import Quarantined
from mrt.source_kit.items import BadItem, quarantine, valid_text
from mrt.store import quarantine as store
from mrt.store.models import QuarantinedItem
from mrt.store.views import metrics_report

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
KEY = "huggingface:deepseek-ai"


def bad(name: str, found: object, key: str | None = None) -> Quarantined:
    item = valid_text({"id": found, "note": "\ud800\x00 kept as valid text"})
    return quarantine(KEY, f"model {name}", item, BadItem("lastModified", "a timestamp", found),
                      item_key=key or f"id:{name}", upstream_id=name)


def test_an_item_is_news_once_and_seeing_it_again_counts(store_db: peewee.Database) -> None:
    first, second = bad("a", "x"), bad("b", "y")
    assert store.record(KEY, [first, second], T0) == [first, second]
    again = bad("a", "changed")
    assert store.record(KEY, [again, bad("c", 1)], T0 + timedelta(minutes=5)) == [bad("c", 1)]
    row = QuarantinedItem.get((QuarantinedItem.source_key == KEY)
                              & (QuarantinedItem.item_key == "id:a"))
    assert (row.count, row.first_seen_at, row.last_seen_at) == (2, T0, T0 + timedelta(minutes=5))
    assert row.reason == again.reason and '"changed"' in row.reason
    assert row.raw["note"] == "\ufffd\ufffd kept as valid text"
    # the same item key under another source is another item
    assert store.record("modelscope:deepseek-ai", [first], T0) == [first]

    summary = store.summaries()
    # the latest: c and a were both seen last at T0+5; c's row is the newer
    assert summary[KEY].count == 3 and summary[KEY].latest_reason == bad("c", 1).reason
    assert summary["modelscope:deepseek-ai"].count == 1
    assert store.summaries(["nothing:here"]) == {}
    assert [r.item_key for r in store.items(KEY)] == ["id:c", "id:a", "id:b"]


def test_metrics_count_items_first_quarantined_in_the_window(store_db: peewee.Database) -> None:
    store.record(KEY, [bad("old", 1)], T0 - timedelta(days=3))
    store.record(KEY, [bad("new", 2), bad("newer", 3)], T0 - timedelta(hours=1))
    store.record(KEY, [bad("old", 4)], T0)  # seen again: not new in this window
    report = metrics_report(T0, timedelta(hours=24))
    assert report.per_source[KEY].quarantined == 2
    assert report.overall.quarantined == 2
    assert metrics_report(T0, timedelta(days=7)).overall.quarantined == 3

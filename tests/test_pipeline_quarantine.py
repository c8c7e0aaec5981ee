"""One source cycle with bad items on the page, in process on a real SQLite file: the cycle is
ok, the bad items are stored and told to the operators once (in the cycle's transaction, with
an outbox row to the ops channel), and a cycle that re-reads them tells nobody again."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import peewee
import pytest
from hostile_items import github_item
from pytest_httpserver import HTTPServer
from test_pipeline_cycle import REPO, cycle, make_engine, state
from test_source_support import T0, FakeClock, iso, json_response, recorded_issues

from mrt.cli import main
from mrt.config import ObservabilityConfig
from mrt.store import sources
from mrt.store.models import Alert, Event, Outbox, QuarantinedItem

KEY = f"github:{REPO}"


def test_bad_items_are_told_once_and_the_cycle_is_ok(
    db: peewee.Database, httpserver: HTTPServer
) -> None:
    engine = make_engine(db, httpserver, FakeClock(),
                         observability=ObservabilityConfig(ops_channels=["hook"]))
    sources.ensure_states([(KEY, "github")], T0)
    at = T0 + timedelta(minutes=5)
    bad_number = github_item(REPO, 7001, "x", at)
    bad_number["number"] = "abc"
    bad_labels = github_item(REPO, 7002, "Support DeepSeek labels", at)
    bad_labels["labels"] = 5
    good = github_item(REPO, 7003, "Support DeepSeek-V3 tokenizer", at)
    pages = [recorded_issues(), [bad_number, good, bad_labels]]
    httpserver.expect_request(f"/repos/{REPO}/issues").respond_with_handler(
        lambda request: json_response(request, pages[0] if "since" not in request.args
                                      else pages[1]))

    assert cycle(engine, T0).outcome == "ok"  # the baseline
    second = cycle(engine, T0 + timedelta(minutes=10))
    assert (second.outcome, second.new_events, second.alerts, second.quarantined) == (
        "ok", 1, 1, 2)
    assert state().cursor["since"] == iso(at)
    assert Event.get().resource_id == f"{REPO}#7003"
    rows = {r.item_key: r for r in QuarantinedItem.select()}
    assert set(rows) == {f"id:{9_200_007_001}", "#7002"}
    assert rows["#7002"].url == f"https://github.com/{REPO}/issues/7002"
    (notice,) = Alert.select().where(Alert.kind == "source_health")
    assert notice.source_key == KEY and "quarantine" in notice.tags
    (sent,) = Outbox.select().where(Outbox.alert == notice.id)
    assert sent.channel == "hook" and "quarantined 2 upstream items" in sent.subject
    assert 'field "number": expected an integer, found "abc"' in sent.body
    assert f'{KEY} issue #7002: field "labels"' in sent.body

    # the overlap re-reads both: counted, not told again, no new alert
    third = cycle(engine, T0 + timedelta(minutes=15))
    assert (third.outcome, third.quarantined, third.alerts) == ("ok", 0, 0)
    assert [r.count for r in QuarantinedItem.select()] == [2, 2]
    assert Alert.select().where(Alert.kind == "source_health").count() == 1


def test_mrt_sources_quarantined_lists_each_item(
    db: peewee.Database, db_path: Path, httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = make_engine(db, httpserver, FakeClock())
    sources.ensure_states([(KEY, "github")], T0)
    at = T0 + timedelta(minutes=5)
    bad = github_item(REPO, 7001, "x", at)
    bad["updated_at"] = "9999-12-31T23:59:59Z"
    pages = [recorded_issues(), [bad, github_item(REPO, 7003, "ok", at)]]
    httpserver.expect_request(f"/repos/{REPO}/issues").respond_with_handler(
        lambda request: json_response(request, pages[0] if "since" not in request.args
                                      else pages[1]))
    cycle(engine, T0)
    cycle(engine, T0 + timedelta(minutes=10))
    capsys.readouterr()

    assert main(["sources", "quarantined", "--db", str(db_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f'{KEY} issue #7001: field "updated_at": expected a time before 2026-11-23T09:10:00Z '
        '(a day after this host\'s clock), found "9999-12-31T23:59:59Z"',
        f"    first seen {(T0 + timedelta(minutes=10)).isoformat()}, last "
        f"{(T0 + timedelta(minutes=10)).isoformat()}, 1 time, "
        f"https://github.com/{REPO}/issues/7001",
    ]
    assert main(["sources", "quarantined", KEY, "--db", str(db_path), "--json"]) == 0
    (item,) = json.loads(capsys.readouterr().out)["quarantined"]
    assert item["item_key"] == "#7001" and item["raw"]["number"] == 7001
    assert main(["sources", "quarantined", "github:other/repo", "--db", str(db_path)]) == 0
    assert "no upstream item of source github:other/repo" in capsys.readouterr().out

"""The soak harness's own parts, checked so that its verdicts can be trusted.

The oracle must flag a lost delivery and a duplicate no kill explains, and accept a duplicate
whose row was in flight at a kill; the sink must record only what it answered 200 to (over real
loopback HTTP), drop connections with a reset when told, and its parser must read the worker's
real default chat text; the fake GitHub must serve FakeGitHub's pages and its faults.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from soak.oracle import OutboxFact, judge_deliveries, judge_memory
from soak.process import Sample
from soak.servers import LoopbackServer
from soak.sink import Delivery, FlakySink, SinkFaults, event_key_of, read_deliveries
from soak.upstream import ChangeDriver, ChangeLog, FlakyGitHub, UpstreamFaults

from mrt.config import config_from_dict
from mrt.delivery.render import render_message
from mrt.events import TrackerEvent
from mrt.rules import compile_rules

KEY = ("soak/alpha", 5001, "issue_opened")
MESSAGE = "[MRT] New issue · soak/alpha on GitHub\nLlama\nhttps://github.com/soak/alpha/issues/5001"


def no_faults() -> SinkFaults:
    return SinkFaults(rate_500=0.0, rate_429=0.0, rate_reset=0.0, rate_slow=0.0)


def test_event_key_is_read_from_the_worker_s_real_default_text() -> None:
    config = config_from_dict({"watch_keywords": ["llama"],
                               "channels": {"soak": {"urls": ["json://127.0.0.1:9/hook/a"]}}})
    event = TrackerEvent(
        source="github", source_key="github:soak/alpha", resource_type="pull_request",
        resource_id="soak/alpha#5003", event_type="pr_merged", event_id="5003:merged:x",
        title="Support llama.cpp GGUF export (#5003)",
        url="https://github.com/soak/alpha/pull/5003", observed_at=datetime.now(UTC),
    )
    decision = compile_rules(config).evaluate(event, now=datetime.now(UTC))
    assert decision.action == "notify"
    body = render_message(config, "soak", [event], decision).body
    assert event_key_of(body) == ("soak/alpha", 5003, "pr_merged")
    assert event_key_of("MRT source github:soak/alpha is failing: 5 polls in a row.") is None


def test_oracle_flags_lost_and_unexplained_duplicates() -> None:
    rows = [OutboxFact(1, "a", MESSAGE, "sent", KEY), OutboxFact(2, "b", MESSAGE, "sent", KEY)]
    twice_at_a = [Delivery("a", KEY, MESSAGE), Delivery("a", KEY, MESSAGE)]
    verdict = judge_deliveries({KEY}, twice_at_a, rows, abandoned={})
    assert verdict.lost == [(KEY, "b")]
    assert verdict.duplicates == 1 and verdict.duplicates_explained == 0
    assert verdict.unexplained[0]["outbox_rows"] == [1]
    assert verdict.sent_without_delivery == [2]  # marked sent, never accepted by the sink


def test_oracle_explains_a_duplicate_only_by_a_claim_abandoned_at_a_kill() -> None:
    rows = [OutboxFact(1, "a", MESSAGE, "sent", KEY), OutboxFact(2, "b", MESSAGE, "sent", KEY)]
    deliveries = [Delivery("a", KEY, MESSAGE), Delivery("a", KEY, MESSAGE),
                  Delivery("b", KEY, MESSAGE)]
    verdict = judge_deliveries({KEY}, deliveries, rows, abandoned={1: 1})
    assert verdict.lost == [] and verdict.unexplained == []
    assert verdict.duplicates == verdict.duplicates_explained == 1
    third = judge_deliveries({KEY}, [*deliveries, Delivery("a", KEY, MESSAGE)], rows, {1: 1})
    assert third.duplicates == 2 and len(third.unexplained) == 1  # one claim explains one


def test_memory_verdict_tells_flat_from_growing() -> None:
    flat = [Sample(t, 1, 90_000 + (t % 3) * 500, 20) for t in range(120)]
    growing = [Sample(t, 1, 90_000 + t * 1_500, 20) for t in range(120)]
    assert judge_memory(flat, warmup_seconds=20).ok
    verdict = judge_memory(growing, warmup_seconds=20)
    assert not verdict.ok and verdict.rss_ratio > 1.5 and verdict.rss_slope_mb_per_hour > 0


def test_sink_records_only_the_deliveries_it_accepted(tmp_path: Path) -> None:
    record = tmp_path / "deliveries.jsonl"
    payload = {"version": "1.0", "title": "", "message": MESSAGE, "type": "info"}
    with LoopbackServer() as server:
        sink = FlakySink(server, record, SinkFaults(rate_500=1.0, rate_429=0.0, rate_reset=0.0,
                                                    rate_slow=0.0), seed=1)
        url = server.url_for("/hook/a")
        assert httpx.post(url, json=payload).status_code == 500
        assert read_deliveries(record) == []
        sink.plan.rates = {"reset": 1.0}
        with pytest.raises(httpx.TransportError):
            httpx.post(url, json=payload)
        sink.plan.rates = {}
        assert httpx.post(url, json=payload).status_code == 200
        sink.close()
    assert read_deliveries(record) == [Delivery("a", KEY, MESSAGE)]
    assert dict(sink.plan.served) == {"500": 1, "reset": 1, "ok": 1}


def test_flaky_github_serves_fake_github_pages_and_its_faults() -> None:
    faults = UpstreamFaults(rate_429=0.0, rate_5xx=0.0, rate_stall=0.0, rate_reset=0.0,
                            rate_malformed=0.0)
    with LoopbackServer() as server:
        github = FlakyGitHub(server, ["soak/alpha"], faults, seed=1)
        url = server.url_for("/repos/soak/alpha/issues")
        first = httpx.get(url, params={"per_page": 100})
        assert first.status_code == 200 and len(first.json()) == 30 and first.headers["ETag"]
        log = ChangeLog()
        driver = ChangeDriver(github, log, seed=2, changes_per_second=1.0)
        for _ in range(40):
            driver.change_once()
        changed = httpx.get(url, params={"per_page": 100, "since": "2026-01-01T00:00:00Z"})
        assert {i["number"] for i in changed.json()} >= {n for _, n, _ in log.expected}
        assert log.expected and sum(log.changes.values()) == 40
        github.plan.rates = {"malformed": 1.0}
        with pytest.raises(json.JSONDecodeError):
            json.loads(httpx.get(url).content)
        github.plan.rates = {"429": 1.0}
        limited = httpx.get(url)
        assert limited.status_code == 429 and limited.headers["Retry-After"] in {"1", "2", "7"}

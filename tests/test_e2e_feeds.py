"""The feed and arXiv sources through the installed `mrt-worker --once`, beside the v0 example's
sources on one loopback server: a silent baseline, a new entry / paper alerted once to the
loopback webhook, no repeat, a 304 that costs one request and nothing else; faults (429, 5xx, an
HTML page with 200) defer or fail only their own source; hostile titles arrive inert."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from feed_support import OTO_ATOM, FakeFeed, atom_entry, html_page, too_many
from hostile import assert_inert
from hostile_items import hostile_strings
from pytest_httpserver import HTTPServer
from test_e2e_support import (
    Product,
    Upstreams,
    cycle_report,
    install_robot,
    loopback_config,
    product_env,
    robot_texts,
)
from test_source_arxiv import FakeArxiv
from werkzeug import Response

FEED = "feed:oto"
QUERY = "arxiv:query:cat:cs.CL"


def now_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def product_with_feeds(tmp_path: Path, server: HTTPServer) -> Product:
    config = loopback_config(tmp_path, server)
    data = json.loads(config.read_text(encoding="utf-8"))
    data["sources"]["feed"] = {"feeds": [{"url": server.url_for("/oto.atom"), "name": "oto"}]}
    data["sources"]["arxiv"] = {"queries": ["cat:cs.CL"], "base_url": server.url_for("/")}
    data["delivery"] = {"min_interval_seconds": 0}
    config.write_text(json.dumps(data), encoding="utf-8")
    return Product(config, product_env(tmp_path / "home", server))


def test_baseline_then_one_alert_each_no_repeat_and_a_304_costs_nothing(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    Upstreams(httpserver)
    robot, _ = install_robot(httpserver)
    feed = FakeFeed(OTO_ATOM.read_bytes()).install(httpserver, "/oto.atom")
    papers = FakeArxiv(httpserver)
    product = product_with_feeds(tmp_path, httpserver)

    check = product.mrt("check", "--config", str(product.config)).stdout
    assert "sources: github, huggingface, modelscope, feed, arxiv" in check, check

    baseline = cycle_report(product.worker_once())
    assert baseline[FEED] == ("ok", 0, 0) and baseline[QUERY] == ("ok", 0, 0)
    assert robot_texts(robot) == []

    feed.add_atom(atom_entry("tag:oto/v3.0.0", "v3.0.0: DeepSeek audio backend",
                             datetime.now(UTC).replace(microsecond=0), "<p>New <b>backend</b></p>"))
    papers.add("2611.00042", 1, now_stamp(), "DeepSeek-V4: Scaling Sparse Attention")
    steady = cycle_report(product.worker_once())
    assert steady[FEED] == ("ok", 1, 1) and steady[QUERY] == ("ok", 1, 1)
    texts = robot_texts(robot)
    assert len(texts) == 2
    (entry,) = [t for t in texts if "v3.0.0" in t]
    assert "New feed entry" in entry and "https://example.org/tag:oto/v3.0.0" in entry
    (paper,) = [t for t in texts if "DeepSeek-V4" in t]
    assert "New paper" in paper and "arxiv.org/abs/2611.00042v1" in paper

    before = len(feed.statuses)
    quiet = cycle_report(product.worker_once())
    assert quiet[FEED] == ("ok", 0, 0) and quiet[QUERY] == ("ok", 0, 0)
    assert feed.statuses[before:] == [304]  # one request, answered 304
    assert len(robot_texts(robot)) == 2  # no repeat
    sources = product.sources()
    assert sources[FEED]["health"] == "ok" and sources[QUERY]["health"] == "ok"

    # `mrt cursor reset --to`: the entries updated since that day are reported again; the one
    # already alerted is not alerted twice
    product.mrt("cursor", "reset", FEED, "--to", "2021-11-01", "--yes",
                "--config", str(product.config))
    assert product.sources()[FEED]["cursor"]["replay"] is True
    replayed = cycle_report(product.worker_once())
    assert replayed[FEED][0] == "ok" and replayed[FEED][1] == 2, replayed[FEED]
    assert len(robot_texts(robot)) == 2
    assert "replay" not in product.sources()[FEED]["cursor"]


def test_faults_defer_or_fail_only_their_own_source(tmp_path: Path, httpserver: HTTPServer) -> None:
    up = Upstreams(httpserver)
    robot, _ = install_robot(httpserver)
    feed = FakeFeed(OTO_ATOM.read_bytes()).install(httpserver, "/oto.atom")
    papers = FakeArxiv(httpserver)
    product = product_with_feeds(tmp_path, httpserver)
    product.worker_once()
    before = product.sources()

    # a 5xx storm on the feed (retried at once: Retry-After 0), an HTML page with 200 from
    # arXiv; ModelScope has news
    feed.add_atom(atom_entry("tag:oto/v3.1.0", "v3.1.0 DeepSeek", datetime.now(UTC)))
    feed.fault = lambda: Response("down", status=503, headers={"Retry-After": "0"})
    papers.fault = html_page
    up.add_ms_model("DeepSeek-R2")
    faulty = cycle_report(product.worker_once(expect=3))
    assert faulty["modelscope:deepseek-ai"] == ("ok", 1, 1)
    assert faulty[FEED][0] == "failed" and faulty[QUERY][0] == "failed"
    after = product.sources()
    assert after[FEED]["last_error"]["http_status"] == 503
    assert "HTML page" in after[QUERY]["last_error"]["message"]
    for key in (FEED, QUERY):
        assert after[key]["health"] == "failing" and after[key]["cursor"] == before[key]["cursor"]
    assert len(robot_texts(robot)) == 1

    # arXiv recovers and alerts its news; the feed is now rate limited: deferred, not failed
    papers.fault = None
    papers.add("2611.00043", 1, now_stamp(), "DeepSeek-R2 reasoning")
    feed.fault = too_many
    limited = cycle_report(product.worker_once())
    assert limited[QUERY] == ("ok", 1, 1) and limited[FEED][1:] == (0, 0)
    after = product.sources()
    assert after[FEED]["health"] == "deferred" and after[FEED]["deferred_until"] is not None
    assert after[FEED]["cursor"] == before[FEED]["cursor"]
    assert after["modelscope:deepseek-ai"]["health"] == "ok"
    assert len(robot_texts(robot)) == 2


def test_hostile_titles_and_summaries_reach_the_webhook_inert(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    Upstreams(httpserver)
    robot, _ = install_robot(httpserver)
    feed = FakeFeed(OTO_ATOM.read_bytes()).install(httpserver, "/oto.atom")
    FakeArxiv(httpserver)
    product = product_with_feeds(tmp_path, httpserver)
    product.worker_once()
    strings = list(hostile_strings().values())
    when = datetime.now(UTC).replace(microsecond=0)
    for index, text in enumerate(strings):
        xml_safe = "".join(c for c in text if (c in "\t\n\r" or ord(c) >= 0x20)
                           and not 0xD800 <= ord(c) <= 0xDFFF and c not in "\ufffe\uffff")
        feed.add_atom(atom_entry(f"tag:oto/hostile-{index}", f"DeepSeek {xml_safe}", when,
                                 xml_safe))
    report = cycle_report(product.worker_once())
    assert report[FEED][0] == "ok" and report[FEED][1] == len(strings)
    texts = robot_texts(robot)
    assert texts and all(assert_inert(t) is None for t in texts)

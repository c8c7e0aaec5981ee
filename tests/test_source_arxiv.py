"""arXiv over loopback, fed with the recorded API search (and a listing built after arXiv's
documented format): baseline, paper_published, paper_revised, paging, 304, quarantine, and the
per-host budget of one request every 3 seconds shared by every arXiv source of a config."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from feed_support import ARXIV_LISTING, ARXIV_SEARCH, FakeFeed
from pytest_httpserver import HTTPServer
from test_source_support import T0, FakeClock, SourceState, make_pool, poll_once, run, spec_for
from werkzeug import Request, Response

from mrt.config import load_config
from mrt.errors import UpstreamChanged
from mrt.pipeline import build_specs
from mrt.plugins import host_budgets
from mrt.sources.feeds import arxiv

TEXT = ARXIV_SEARCH.read_text(encoding="utf-8")
HEAD = TEXT.split("<entry>", 1)[0]
RECORDED = re.findall(r"<entry>.*?</entry>", TEXT, re.S)


def updated_of(entry: str) -> str:
    found = re.search(r"<updated>(.*?)</updated>", entry)
    assert found
    return found.group(1)


class FakeArxiv:
    """`/api/query`: the entries sorted by updated descending, sliced by start/max_results."""

    def __init__(self, server: HTTPServer) -> None:
        self.entries = list(RECORDED)
        self.asked: list[dict[str, Any]] = []
        self.fault: Callable[[], Response] | None = None  # replaces the answer while set
        server.expect_request("/api/query").respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        args = dict(request.args)
        self.asked.append(args)
        if self.fault is not None:
            return self.fault()
        ordered = sorted(self.entries, key=updated_of, reverse=True)
        start, size = int(args["start"]), int(args["max_results"])
        body = HEAD + "".join(ordered[start:start + size]) + "</feed>"
        return Response(body, content_type="application/atom+xml; charset=utf-8")

    def add(self, ident: str, version: int, updated: str, title: str = "A new paper") -> None:
        template = RECORDED[0]
        entry = re.sub(r"2202\.12139v1", f"{ident}v{version}", template)
        entry = re.sub(r"<updated>.*?</updated>", f"<updated>{updated}</updated>", entry)
        entry = re.sub(r"<title>.*?</title>", lambda _: f"<title>{title}</title>", entry,
                       flags=re.S)
        self.entries.append(entry)


def query_section(server: HTTPServer, **kw: Any) -> arxiv.Config:
    return arxiv.Config(queries=['cat:cs.CL AND abs:"mixture of experts"'],
                        base_url=server.url_for("/"), **kw)


def test_query_baseline_then_published_revised_and_paging(httpserver: HTTPServer) -> None:
    fake = FakeArxiv(httpserver)
    spec = spec_for(arxiv, query_section(httpserver, page_size=4))
    state = SourceState()

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            base, _ = await poll_once(arxiv, spec, pool, state)
            assert spec.key == 'arxiv:query:cat:cs.CL AND abs:"mixture of experts"'
            assert base.events == [] and base.fetched == 4  # one page for a baseline
            assert fake.asked[0] == {"search_query": 'cat:cs.CL AND abs:"mixture of experts"',
                                     "sortBy": "lastUpdatedDate", "sortOrder": "descending",
                                     "start": "0", "max_results": "4"}
            newest = max(RECORDED, key=updated_of)
            ident = re.search(r"abs/([\d.]+)v(\d+)</id>", newest)
            assert ident
            fake.add(ident.group(1), int(ident.group(2)) + 1, "2026-11-22T08:00:00Z",
                     "Revised title")
            for n in range(5):  # five new papers: two pages of four
                fake.add(f"2611.0000{n}", 1, f"2026-11-22T07:0{n}:00Z", f"Paper {n}")
            fake.asked.clear()
            second, _ = await poll_once(arxiv, spec, pool, state)
            assert [a["start"] for a in fake.asked] == ["0", "4"]  # stopped at the cursor
            assert [(e.event_type, e.event_id) for e in second.events] == [
                *[("paper_published", f"2611.0000{n}v1") for n in range(5)],
                ("paper_revised", f"{ident.group(1)}v{int(ident.group(2)) + 1}")]
            paper = second.events[0]
            assert paper.title == "Paper 0" and paper.labels == ("cs.SE", "cs.LG")
            assert paper.author == "Mohit Kumar Ahuja, Arnaud Gotlieb, Helge Spieker"
            assert paper.summary.startswith("Deep Learning (DL) has revolutionized")
            assert paper.details["pdf"] == "https://arxiv.org/pdf/2611.00000v1"
            assert paper.url == "https://arxiv.org/abs/2611.00000v1"
            assert second.cursor == {"after": "2026-11-22T08:00:00Z"}
            fake.asked.clear()
            third, _ = await poll_once(arxiv, spec, pool, state)
            assert third.events == [] and len(fake.asked) == 1

    run(go)


def test_category_listing_published_revised_and_304(httpserver: HTTPServer) -> None:
    fake = FakeFeed(ARXIV_LISTING.read_bytes()).install(httpserver, "/atom/cs.CL")
    spec = spec_for(arxiv, arxiv.Config(categories=["cs.CL"],
                                        listing_url=httpserver.url_for("/atom")))
    state = SourceState()

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            base, _ = await poll_once(arxiv, spec, pool, state)
            assert spec.key == "arxiv:category:cs.CL" and base.events == []
            assert base.snapshots == {"2611.10001": {"version": 1}, "2610.04321": {"version": 2}}
            quiet, _ = await poll_once(arxiv, spec, pool, state)
            assert quiet.events == [] and fake.statuses[-1] == 304
            fake.replace("oai:arXiv.org:2610.04321v2", "oai:arXiv.org:2610.04321v3")
            fake.replace("oai:arXiv.org:2611.10001v1", "oai:arXiv.org:2611.20002v1")
            second, _ = await poll_once(arxiv, spec, pool, state)
            assert [(e.event_type, e.event_id) for e in second.events] == [
                ("paper_revised", "2610.04321v3"), ("paper_published", "2611.20002v1")]
            published = second.events[1]
            assert published.summary == ("We study token routing in sparse "
                                         "mixture-of-experts language models.")
            assert published.details["authors"] == ["Ada Lovelace, Alan Turing"]
            assert published.details["pdf"] == "https://arxiv.org/pdf/2611.20002v1"

    run(go)


def test_a_paper_without_an_arxiv_id_is_quarantined(httpserver: HTTPServer) -> None:
    fake = FakeArxiv(httpserver)
    spec = spec_for(arxiv, query_section(httpserver))
    state = SourceState()

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(arxiv, spec, pool, state)
            fake.add("2611.00001", 1, "2026-11-22T07:00:00Z")
            broken = re.sub(r"<id>.*?</id>", "<id>urn:nothing</id>", fake.entries[-1])
            broken = re.sub(r"<link [^>]*/>", "", broken)  # nor a link to read one from
            fake.entries.append(broken.replace("<updated>2026-11-22T07:00:00Z",
                                               "<updated>2026-11-22T07:30:00Z"))
            second, _ = await poll_once(arxiv, spec, pool, state)
            assert [e.event_id for e in second.events] == ["2611.00001v1"]
            (bad,) = second.quarantined
            assert 'field "id"' in bad.reason and "urn:nothing" in bad.reason

    run(go)


def test_an_html_page_with_200_fails_the_poll(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/query").respond_with_data(
        "<html><body>Rate exceeded.</body></html>", content_type="text/html")
    spec = spec_for(arxiv, query_section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            with pytest.raises(UpstreamChanged, match="HTML page"):
                await poll_once(arxiv, spec, pool, SourceState())

    run(go)


def test_one_request_every_3_seconds_across_every_arxiv_source_of_a_config(
    httpserver: HTTPServer, tmp_path: Path,
) -> None:
    """Two arXiv sources (a query and a category) in one config, polled at once by one pool
    holding the budgets the installed plugins declare: the second request waits 3 s of the
    pool's clock. The loopback fake is one host, so arXiv's budget is lent to that host."""
    FakeArxiv(httpserver)
    listing = FakeFeed(ARXIV_LISTING.read_bytes()).install(httpserver, "/atom/cs.CL")
    config_file = tmp_path / "config.toml"
    config_file.write_text(
        "version = 1\n[sources.arxiv]\n"
        f'base_url = "{httpserver.url_for("/")}"\nlisting_url = "{httpserver.url_for("/atom")}"\n'
        "queries = ['cat:cs.CL AND abs:\"mixture of experts\"']\ncategories = [\"cs.CL\"]\n",
        encoding="utf-8")
    specs = [s for s in build_specs(load_config(config_file)) if s.plugin == "arxiv"]
    assert [s.key for s in specs] == ['arxiv:query:cat:cs.CL AND abs:"mixture of experts"',
                                      "arxiv:category:cs.CL"]
    budgets = host_budgets()
    assert budgets["export.arxiv.org"] == budgets["rss.arxiv.org"] == arxiv.BUDGETS[
        "export.arxiv.org"]
    clock = FakeClock()
    seen: list[float] = []
    listing.clock = lambda: (clock.now() - T0).total_seconds()

    async def go() -> None:
        loopback = httpserver.host  # where both sources' requests go, as export.arxiv.org
        async with make_pool(clock, budgets={loopback: budgets["export.arxiv.org"]}) as pool:
            async def one(spec: Any) -> None:
                await poll_once(arxiv, spec, pool, SourceState())
                seen.append((clock.now() - T0).total_seconds())

            await asyncio.gather(*(one(s) for s in specs))

    run(go)
    assert clock.sleeps and sum(clock.sleeps) == pytest.approx(3.0)
    assert sorted(seen) == pytest.approx([0.0, 3.0])
    assert listing.seen_at in ([0.0], [3.0])


def test_a_truncated_search_answer_fails_the_poll_and_keeps_the_cursor(
    httpserver: HTTPServer,
) -> None:
    body = ARXIV_SEARCH.read_bytes()
    httpserver.expect_request("/api/query").respond_with_data(
        body[: len(body) // 2], content_type="application/atom+xml")
    spec = spec_for(arxiv, query_section(httpserver))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            with pytest.raises(UpstreamChanged, match="malformed or truncated XML"):
                await poll_once(arxiv, spec, pool, SourceState())

    run(go)


def test_hostile_titles_and_abstracts_arrive_as_one_line_of_valid_text(
    httpserver: HTTPServer,
) -> None:
    from xml.sax.saxutils import escape

    from hostile_items import hostile_strings

    fake = FakeArxiv(httpserver)
    spec = spec_for(arxiv, query_section(httpserver, page_size=100))
    state = SourceState()
    strings = list(hostile_strings().values())

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            await poll_once(arxiv, spec, pool, state)
            for n, text in enumerate(strings):
                safe = "".join(c for c in text if (c in "\t\n\r" or ord(c) >= 0x20)
                               and not 0xD800 <= ord(c) <= 0xDFFF and c not in "\ufffe\uffff")
                fake.add(f"2611.{n:05d}", 1, "2026-11-22T07:00:00Z", escape(safe) or "x")
            second, _ = await poll_once(arxiv, spec, pool, state)
            # a title with no text left (only controls or blanks) is quarantined, not alerted
            assert len(second.events) + len(second.quarantined) == len(strings)
            assert all('field "title"' in bad.reason for bad in second.quarantined)
            assert len(second.events) >= len(strings) - 3
            for event in second.events:
                assert event.title and "\n" not in event.title and "\x00" not in event.title
                event.title.encode("utf-8")

    run(go)
